//! `longrun init`'s domain: lays the control files of a repository down from the embedded
//! templates, creating only what is missing.
//!
//! Nothing that exists is ever overwritten. The two allowed modifications are additions: the
//! `## Working with longrun` section appended to an `AGENTS.md` that lacks it, and the missing
//! lines appended to `.gitignore`. Every write is atomic, and a file that appears while this
//! runs is left alone rather than clobbered. This module never prints, never reads the clock
//! or the environment (the caller passes the start time in), and never runs git: creating or
//! checking the repository is the caller's job.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use serde::Serialize;

use crate::fsutil::{self, CreateOutcome, FsError, MAX_STATE_FILE_BYTES};
use crate::templates::{self, RunLogContext};

/// What the caller knows that the scaffold must not look up itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScaffoldOptions {
    /// Written into `run-log.md`'s Context, already formatted (e.g. `2026-11-21T09:14:03Z`).
    pub start_time: String,
    /// The name in `plan.md`'s title and `run-log.md`'s Repo line. `None`: the root folder's
    /// name.
    pub project_name: Option<String>,
    /// The checked-out branch, for `run-log.md`'s Context; `None` leaves the line blank.
    pub branch: Option<String>,
    /// Where the built-in skills go, relative to the root (`skills_dir` of an existing
    /// longrun.yaml); `None` is `.agents/skills`.
    pub skills_dir: Option<PathBuf>,
}

/// What a scaffold run did, path by path (paths relative to the root, in a fixed order).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScaffoldReport {
    /// Files that did not exist and were written from a template.
    pub created: Vec<PathBuf>,
    /// Existing files that got an addition (`AGENTS.md`'s section, `.gitignore` lines).
    pub appended: Vec<PathBuf>,
    /// Files that already existed and were not changed.
    pub left_alone: Vec<PathBuf>,
    /// Things a person should know: files that were left alone although they lack what
    /// longrun would have added.
    pub notices: Vec<ScaffoldNotice>,
}

/// A file left alone for a reason worth telling a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScaffoldNotice {
    pub path: PathBuf,
    pub message: String,
}

/// Why the scaffold could not finish. Files created before the error stay; running again
/// creates the rest.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("`{path}` is not a directory")]
    NotADirectory { path: PathBuf },
    #[error("cannot inspect `{path}`")]
    Inspect {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot create directory `{path}`")]
    CreateDirectory {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    File(#[from] FsError),
    #[error("`{path}` changed while longrun was adding to it; nothing was written to it")]
    ChangedConcurrently { path: PathBuf },
}

impl ScaffoldReport {
    /// True when the run created and changed nothing.
    pub fn is_unchanged(&self) -> bool {
        self.created.is_empty() && self.appended.is_empty()
    }
}

/// Creates in `root` whatever of longrun's files is missing: `plan.md`, `checklist.yaml`,
/// `run-log.md`, `longrun.yaml`, `policy/default.yaml`, `current_tasks/.gitkeep`, the built-in
/// skills under the skills folder (`.agents/skills/` unless the options say), `AGENTS.md` (or its longrun section) and `.gitignore` (or
/// its missing lines).
///
/// Running it again changes nothing.
pub fn scaffold(root: &Path, options: &ScaffoldOptions) -> Result<ScaffoldReport, ScaffoldError> {
    let metadata = fs::metadata(root).map_err(|source| ScaffoldError::Inspect {
        path: root.to_path_buf(),
        source,
    })?;
    if !metadata.is_dir() {
        return Err(ScaffoldError::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    let project_name = options
        .project_name
        .clone()
        .unwrap_or_else(|| folder_name(root));
    let run_log = templates::render_run_log(&RunLogContext {
        repo: project_name.clone(),
        branch: options.branch.clone(),
        start_time: options.start_time.clone(),
    });

    let mut new_files: Vec<(String, String)> = vec![
        ("plan.md", templates::render_plan(&project_name)),
        ("checklist.yaml", templates::CHECKLIST_YAML.to_string()),
        ("run-log.md", run_log),
        ("longrun.yaml", templates::LONGRUN_YAML.to_string()),
        (
            "policy/default.yaml",
            templates::POLICY_DEFAULT_YAML.to_string(),
        ),
        // Git does not keep empty folders; the claim files themselves are ignored.
        ("current_tasks/.gitkeep", String::new()),
    ]
    .into_iter()
    .map(|(relative, contents)| (relative.to_string(), contents))
    .collect();
    let skills_dir = options
        .skills_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(crate::skills::SKILLS_DIR));
    for (name, contents) in templates::BUILTIN_SKILLS {
        new_files.push((
            skills_dir
                .join(name)
                .join(crate::skills::SKILL_FILE)
                .display()
                .to_string(),
            contents.to_string(),
        ));
    }

    let mut report = ScaffoldReport::default();
    for (relative, contents) in &new_files {
        create_if_missing(root, relative, contents, &mut report)?;
    }
    merge_agents_md(root, &mut report)?;
    merge_gitignore(root, &mut report)?;
    Ok(report)
}

/// The text `AGENTS.md` starts with when longrun creates it.
const AGENTS_MD_PREAMBLE: &str =
    "# AGENTS.md\n\nGuidelines for every agent that works in this repository.\n\n";

fn create_if_missing(
    root: &Path,
    relative: &str,
    contents: &str,
    report: &mut ScaffoldReport,
) -> Result<(), ScaffoldError> {
    let path = root.join(relative);
    if exists(&path)? {
        report.left_alone.push(PathBuf::from(relative));
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|source| ScaffoldError::CreateDirectory {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    // The check above is only for a clear report; the create itself refuses to clobber a
    // file that appeared in between.
    match fsutil::create_new_atomic(&path, contents.as_bytes())? {
        CreateOutcome::Created => report.created.push(PathBuf::from(relative)),
        CreateOutcome::AlreadyExists => report.left_alone.push(PathBuf::from(relative)),
    }
    Ok(())
}

/// An existing file that longrun may add to, read as text; or why it must be left alone.
enum Existing {
    Missing,
    Text(String),
    Skip(String),
}

fn read_existing(path: &Path) -> Result<Existing, ScaffoldError> {
    let metadata = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Existing::Missing),
        Err(source) => {
            return Err(ScaffoldError::Inspect {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if metadata.file_type().is_symlink() {
        // Rewriting through the link would replace it with a plain file, or write wherever it
        // points: both are surprises.
        return Ok(Existing::Skip("is a symbolic link".to_string()));
    }
    if !metadata.is_file() {
        return Ok(Existing::Skip("is not a regular file".to_string()));
    }
    match fsutil::read_text(path, MAX_STATE_FILE_BYTES) {
        Ok(text) => Ok(Existing::Text(text)),
        Err(FsError::NotUtf8 { line, column, .. }) => Ok(Existing::Skip(format!(
            "is not valid UTF-8 (line {line}, column {column})"
        ))),
        Err(error) => Err(error.into()),
    }
}

fn merge_agents_md(root: &Path, report: &mut ScaffoldReport) -> Result<(), ScaffoldError> {
    let relative = "AGENTS.md";
    let path = root.join(relative);
    match read_existing(&path)? {
        Existing::Missing => {
            let contents = format!("{AGENTS_MD_PREAMBLE}{}", templates::AGENTS_SECTION_MD);
            create_if_missing(root, relative, &contents, report)
        }
        Existing::Skip(reason) => {
            report.left_alone.push(PathBuf::from(relative));
            report.notices.push(ScaffoldNotice {
                path: PathBuf::from(relative),
                message: format!(
                    "`{relative}` {reason}; add the `## {}` section by hand",
                    templates::AGENTS_SECTION_HEADING
                ),
            });
            Ok(())
        }
        Existing::Text(text) => {
            if has_heading(&text, templates::AGENTS_SECTION_HEADING) {
                report.left_alone.push(PathBuf::from(relative));
                return Ok(());
            }
            let mut updated = text.clone();
            separate_block(&mut updated);
            updated.push_str(&in_line_endings_of(&text, templates::AGENTS_SECTION_MD));
            append_checked(&path, &text, &updated)?;
            report.appended.push(PathBuf::from(relative));
            Ok(())
        }
    }
}

fn merge_gitignore(root: &Path, report: &mut ScaffoldReport) -> Result<(), ScaffoldError> {
    let relative = ".gitignore";
    let path = root.join(relative);
    match read_existing(&path)? {
        Existing::Missing => create_if_missing(root, relative, templates::GITIGNORE, report),
        Existing::Skip(reason) => {
            report.left_alone.push(PathBuf::from(relative));
            report.notices.push(ScaffoldNotice {
                path: PathBuf::from(relative),
                message: format!(
                    "`{relative}` {reason}; make sure it ignores {}",
                    templates::GITIGNORE
                        .lines()
                        .map(|line| format!("`{line}`"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            });
            Ok(())
        }
        Existing::Text(text) => {
            let missing = missing_gitignore_lines(&text, templates::GITIGNORE);
            if missing.is_empty() {
                report.left_alone.push(PathBuf::from(relative));
                return Ok(());
            }
            let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
            let mut updated = text.clone();
            if !updated.is_empty() && !updated.ends_with('\n') {
                updated.push_str(newline);
            }
            for line in missing {
                updated.push_str(line);
                updated.push_str(newline);
            }
            append_checked(&path, &text, &updated)?;
            report.appended.push(PathBuf::from(relative));
            Ok(())
        }
    }
}

/// Writes `updated` over `path` only if the file still holds `original`, so an edit made
/// since it was read is not lost. (A write in the instant between this check and the rename
/// can still be lost; a person editing the file during `longrun init` is the only writer.)
fn append_checked(path: &Path, original: &str, updated: &str) -> Result<(), ScaffoldError> {
    let current = fsutil::read_bounded(path, MAX_STATE_FILE_BYTES)?;
    if current != original.as_bytes() {
        return Err(ScaffoldError::ChangedConcurrently {
            path: path.to_path_buf(),
        });
    }
    fsutil::write_atomic(path, updated.as_bytes())?;
    Ok(())
}

/// Ends `text` with a blank line so an appended Markdown block stands on its own. It only
/// ever adds: the existing text stays byte for byte what it was.
fn separate_block(text: &mut String) {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    if text.is_empty() || text.ends_with("\n\n") || text.ends_with("\n\r\n") {
        return;
    }
    if !text.ends_with('\n') {
        text.push_str(newline);
    }
    text.push_str(newline);
}

/// `addition` with CRLF line ends when `existing` uses them, so an append does not leave a
/// file with mixed line endings.
fn in_line_endings_of(existing: &str, addition: &str) -> String {
    if existing.contains("\r\n") {
        addition.replace('\n', "\r\n")
    } else {
        addition.to_string()
    }
}

/// True when `markdown` has a heading (any level, outside code) whose text is `wanted`,
/// ignoring case and a trailing colon.
fn has_heading(markdown: &str, wanted: &str) -> bool {
    let mut heading_text: Option<String> = None;
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading_text = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                if let Some(text) = heading_text.take() {
                    let text = text.trim().trim_end_matches(':').trim();
                    if text.eq_ignore_ascii_case(wanted) {
                        return true;
                    }
                }
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some(heading) = heading_text.as_mut() {
                    heading.push_str(&text);
                }
            }
            _ => {}
        }
    }
    false
}

/// The lines of `wanted` that `existing` does not already ignore, in `wanted`'s order.
/// `/x/`, `x/`, `/x` and `x` count as the same entry: each ignores longrun's folder.
fn missing_gitignore_lines<'a>(existing: &str, wanted: &'a str) -> Vec<&'a str> {
    let present: Vec<&str> = existing
        .lines()
        .map(normalize_gitignore_line)
        .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with('!'))
        .collect();
    wanted
        .lines()
        .filter(|line| !line.trim().is_empty())
        .filter(|line| !present.contains(&normalize_gitignore_line(line)))
        .collect()
}

fn normalize_gitignore_line(line: &str) -> &str {
    let line = line.trim();
    let line = line.strip_prefix('/').unwrap_or(line);
    line.strip_suffix('/').unwrap_or(line)
}

fn exists(path: &Path) -> Result<bool, ScaffoldError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(ScaffoldError::Inspect {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The root folder's own name; for `.` or `/`, the name of the folder it resolves to.
fn folder_name(root: &Path) -> String {
    let name = root
        .file_name()
        .map(|name| name.to_os_string())
        .or_else(|| {
            root.canonicalize()
                .ok()
                .and_then(|path| path.file_name().map(|name| name.to_os_string()))
        });
    name.map(|name| name.to_string_lossy().into_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "project".to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn options() -> ScaffoldOptions {
        ScaffoldOptions {
            start_time: "2026-11-21T09:14:03Z".to_string(),
            project_name: None,
            branch: Some("main".to_string()),
            skills_dir: None,
        }
    }

    /// Every file under `root`, relative path to bytes.
    fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut files = BTreeMap::new();
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let relative = path.strip_prefix(root).unwrap().to_path_buf();
                    files.insert(relative, fs::read(&path).unwrap());
                }
            }
        }
        files
    }

    fn paths(list: &[&str]) -> Vec<PathBuf> {
        list.iter().map(PathBuf::from).collect()
    }

    const ALL_FILES: &[&str] = &[
        "plan.md",
        "checklist.yaml",
        "run-log.md",
        "longrun.yaml",
        "policy/default.yaml",
        "current_tasks/.gitkeep",
        ".agents/skills/longrun-worker/SKILL.md",
        ".agents/skills/verify/SKILL.md",
        ".agents/skills/review/SKILL.md",
        ".agents/skills/ci-triage/SKILL.md",
        ".agents/skills/clean-commit/SKILL.md",
        "AGENTS.md",
        ".gitignore",
    ];

    #[test]
    fn second_run_creates_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("my-app");
        fs::create_dir(&root).unwrap();

        let first = scaffold(&root, &options()).unwrap();
        assert_eq!(first.created, paths(ALL_FILES));
        assert!(first.appended.is_empty());
        assert!(first.left_alone.is_empty());
        let after_first = snapshot(&root);
        assert_eq!(after_first.len(), ALL_FILES.len(), "no stray temp files");

        let plan = String::from_utf8(after_first[Path::new("plan.md")].clone()).unwrap();
        assert!(plan.starts_with("# Plan: my-app\n"));
        let log = String::from_utf8(after_first[Path::new("run-log.md")].clone()).unwrap();
        assert!(log.contains("- Repo: my-app\n"));
        assert!(log.contains("- Branch/worktree: main\n"));
        assert!(log.contains("- Start time: 2026-11-21T09:14:03Z\n"));
        let agents = String::from_utf8(after_first[Path::new("AGENTS.md")].clone()).unwrap();
        assert!(agents.starts_with("# AGENTS.md\n"));
        assert!(agents.contains("## Working with longrun\n"));
        assert_eq!(
            after_first[Path::new(".gitignore")],
            templates::GITIGNORE.as_bytes()
        );
        assert!(after_first[Path::new("current_tasks/.gitkeep")].is_empty());

        let second = scaffold(&root, &options()).unwrap();
        assert!(second.is_unchanged());
        assert!(second.created.is_empty());
        assert!(second.appended.is_empty());
        assert_eq!(second.left_alone, paths(ALL_FILES));
        assert_eq!(snapshot(&root), after_first, "every file byte-identical");
    }

    #[test]
    fn existing_files_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("plan.md"), "# Plan: mine\n").unwrap();
        fs::write(root.join("checklist.yaml"), "tasks: []\n").unwrap();
        fs::create_dir(root.join("policy")).unwrap();
        fs::write(root.join("policy/default.yaml"), "version: 1\n").unwrap();

        let report = scaffold(root, &options()).unwrap();
        assert_eq!(
            report.left_alone,
            paths(&["plan.md", "checklist.yaml", "policy/default.yaml"])
        );
        assert_eq!(
            report.created,
            paths(&[
                "run-log.md",
                "longrun.yaml",
                "current_tasks/.gitkeep",
                ".agents/skills/longrun-worker/SKILL.md",
                ".agents/skills/verify/SKILL.md",
                ".agents/skills/review/SKILL.md",
                ".agents/skills/ci-triage/SKILL.md",
                ".agents/skills/clean-commit/SKILL.md",
                "AGENTS.md",
                ".gitignore"
            ])
        );
        assert_eq!(
            fs::read_to_string(root.join("plan.md")).unwrap(),
            "# Plan: mine\n"
        );
        assert_eq!(
            fs::read_to_string(root.join("checklist.yaml")).unwrap(),
            "tasks: []\n"
        );
        assert_eq!(
            fs::read_to_string(root.join("policy/default.yaml")).unwrap(),
            "version: 1\n"
        );
    }

    #[test]
    fn agents_md_gets_the_section_appended_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let original = "# Our agents\n\n- Use tabs.\n";
        fs::write(root.join("AGENTS.md"), original).unwrap();

        let report = scaffold(root, &options()).unwrap();
        assert_eq!(report.appended, paths(&["AGENTS.md"]));
        assert!(!report.created.contains(&PathBuf::from("AGENTS.md")));
        let agents = fs::read_to_string(root.join("AGENTS.md")).unwrap();
        assert_eq!(
            agents,
            format!("{original}\n{}", templates::AGENTS_SECTION_MD)
        );

        let again = scaffold(root, &options()).unwrap();
        assert!(again.is_unchanged());
        assert_eq!(fs::read_to_string(root.join("AGENTS.md")).unwrap(), agents);
        assert_eq!(agents.matches("## Working with longrun").count(), 1);
    }

    #[test]
    fn agents_md_with_the_heading_in_other_words_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let original = "# Rules\n\n### Working with Longrun:\n\nOur own words.\n";
        fs::write(root.join("AGENTS.md"), original).unwrap();
        let report = scaffold(root, &options()).unwrap();
        assert!(report.left_alone.contains(&PathBuf::from("AGENTS.md")));
        assert_eq!(
            fs::read_to_string(root.join("AGENTS.md")).unwrap(),
            original
        );
    }

    #[test]
    fn a_heading_inside_a_code_fence_does_not_count() {
        assert!(!has_heading(
            "```\n## Working with longrun\n```\n",
            "Working with longrun"
        ));
        assert!(has_heading(
            "Intro\n\n## Working with longrun\n",
            "Working with longrun"
        ));
    }

    #[test]
    fn gitignore_gets_only_the_missing_lines() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // No final newline, and `.longrun` written in another equivalent form.
        fs::write(root.join(".gitignore"), "/target\n/.longrun/").unwrap();

        let report = scaffold(root, &options()).unwrap();
        assert_eq!(report.appended, paths(&[".gitignore"]));
        let gitignore = fs::read_to_string(root.join(".gitignore")).unwrap();
        assert_eq!(gitignore, "/target\n/.longrun/\ncurrent_tasks/*.lock\n");

        let again = scaffold(root, &options()).unwrap();
        assert!(again.is_unchanged());
        assert_eq!(
            fs::read_to_string(root.join(".gitignore")).unwrap(),
            gitignore
        );
    }

    #[test]
    fn appends_keep_crlf_line_endings() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join(".gitignore"), "target\r\n").unwrap();
        fs::write(root.join("AGENTS.md"), "# Rules\r\n").unwrap();
        scaffold(root, &options()).unwrap();
        assert_eq!(
            fs::read_to_string(root.join(".gitignore")).unwrap(),
            "target\r\n.longrun/\r\ncurrent_tasks/*.lock\r\n"
        );
        let agents = fs::read_to_string(root.join("AGENTS.md")).unwrap();
        assert!(agents.starts_with("# Rules\r\n\r\n## Working with longrun\r\n"));
        assert!(!agents.replace("\r\n", "").contains('\n'), "no bare LF");
        assert!(scaffold(root, &options()).unwrap().is_unchanged());
    }

    #[test]
    fn gitignore_with_every_line_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let original = "# ours\ncurrent_tasks/*.lock\n.longrun\n";
        fs::write(root.join(".gitignore"), original).unwrap();
        let report = scaffold(root, &options()).unwrap();
        assert!(report.left_alone.contains(&PathBuf::from(".gitignore")));
        assert_eq!(
            fs::read_to_string(root.join(".gitignore")).unwrap(),
            original
        );
    }

    #[test]
    fn a_commented_or_negated_line_is_not_an_ignore() {
        assert_eq!(
            missing_gitignore_lines("# .longrun/\n!current_tasks/*.lock\n", templates::GITIGNORE),
            vec![".longrun/", "current_tasks/*.lock"]
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_agents_md_is_reported_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        fs::create_dir(&root).unwrap();
        let target = dir.path().join("shared-agents.md");
        fs::write(&target, "# Shared\n").unwrap();
        std::os::unix::fs::symlink(&target, root.join("AGENTS.md")).unwrap();

        let report = scaffold(&root, &options()).unwrap();
        assert!(report.left_alone.contains(&PathBuf::from("AGENTS.md")));
        assert_eq!(report.notices.len(), 1);
        assert!(report.notices[0].message.contains("symbolic link"));
        assert_eq!(fs::read_to_string(&target).unwrap(), "# Shared\n");
        assert!(
            fs::symlink_metadata(root.join("AGENTS.md"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn explicit_project_name_wins_and_a_missing_root_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let report = scaffold(
            root,
            &ScaffoldOptions {
                project_name: Some("Billing service".to_string()),
                ..options()
            },
        )
        .unwrap();
        assert!(report.created.contains(&PathBuf::from("plan.md")));
        let plan = fs::read_to_string(root.join("plan.md")).unwrap();
        assert!(plan.starts_with("# Plan: Billing service\n"));

        let missing = root.join("nope");
        let error = scaffold(&missing, &options()).unwrap_err();
        assert!(error.to_string().contains("nope"), "{error}");
        fs::write(root.join("file"), "").unwrap();
        let error = scaffold(&root.join("file"), &options()).unwrap_err();
        assert!(matches!(error, ScaffoldError::NotADirectory { .. }));
    }

    #[test]
    fn folder_name_of_dot_resolves() {
        assert_eq!(folder_name(Path::new("/tmp/some-repo")), "some-repo");
        assert!(!folder_name(Path::new(".")).is_empty());
    }
}
