//! Agent Skills in a user's repository: `.agents/skills/<name>/SKILL.md`, read only for the
//! name and description in their YAML front matter, which is all a worker prompt lists.
//!
//! Reads files and nothing else: it never writes, prints or spawns. A broken skill never
//! stops a cycle: it is left out and described in a [`SkillWarning`] for the caller to show.
//! Writing and validating skill drafts in full belongs to mining.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsutil;

/// Where skills live, relative to the repository root.
pub const SKILLS_DIR: &str = ".agents/skills";

/// The file that makes a directory a skill.
pub const SKILL_FILE: &str = "SKILL.md";

/// Largest `SKILL.md` read; only its front matter is needed.
pub const MAX_SKILL_FILE_BYTES: u64 = 1024 * 1024;

/// Longest description the Agent Skills format allows, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;

/// One usable skill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillSummary {
    pub name: String,
    pub description: String,
    /// The `SKILL.md` file, under the directory given to [`list_skills`].
    pub path: PathBuf,
}

/// A skill that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillWarning {
    pub path: PathBuf,
    pub message: String,
}

/// What [`list_skills`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillListing {
    /// Usable skills, sorted by name.
    pub skills: Vec<SkillSummary>,
    /// Skills left out, in directory-name order.
    pub warnings: Vec<SkillWarning>,
}

/// The name and description from a `SKILL.md` front matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontMatter {
    pub name: String,
    pub description: String,
}

/// Lists the skills in `skills_dir` (usually `<repository>/.agents/skills`). A missing
/// directory has no skills and no warnings. Hidden entries and plain files are not skills.
pub fn list_skills(skills_dir: &Path) -> SkillListing {
    let mut listing = SkillListing::default();
    let entries = match fs::read_dir(skills_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return listing,
        Err(error) => {
            listing.warnings.push(SkillWarning {
                path: skills_dir.to_path_buf(),
                message: format!("cannot read the skills directory: {error}"),
            });
            return listing;
        }
    };
    let mut directories: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                listing.warnings.push(SkillWarning {
                    path: skills_dir.to_path_buf(),
                    message: format!("cannot read the skills directory: {error}"),
                });
                continue;
            }
        };
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            listing.warnings.push(SkillWarning {
                path,
                message: "the directory name is not valid UTF-8".to_string(),
            });
            continue;
        };
        // `is_dir` follows symlinks: a linked skill directory is a skill.
        if name.starts_with('.') || !path.is_dir() {
            continue;
        }
        directories.push((name, path));
    }
    directories.sort();
    for (directory_name, directory) in directories {
        let path = directory.join(SKILL_FILE);
        match read_skill(&path, &directory_name) {
            Ok(front_matter) => listing.skills.push(SkillSummary {
                name: front_matter.name,
                description: front_matter.description,
                path,
            }),
            Err(message) => listing.warnings.push(SkillWarning { path, message }),
        }
    }
    listing.skills.sort_by(|a, b| a.name.cmp(&b.name));
    listing
}

fn read_skill(path: &Path, directory_name: &str) -> Result<FrontMatter, String> {
    let text = fsutil::read_text(path, MAX_SKILL_FILE_BYTES).map_err(|error| {
        if error.is_not_found() {
            format!("the skill directory has no {SKILL_FILE}")
        } else {
            let mut message = error.to_string();
            if let Some(source) = std::error::Error::source(&error) {
                message.push_str(&format!(": {source}"));
            }
            message
        }
    })?;
    let front_matter = parse_front_matter(&text)?;
    if front_matter.name != directory_name {
        return Err(format!(
            "the skill is named `{}` but its directory is `{directory_name}`; they must match",
            front_matter.name
        ));
    }
    Ok(front_matter)
}

/// Reads `name` and `description` from the YAML front matter of a `SKILL.md`: the lines
/// between a first line `---` and the next `---`. Other keys (`license`, `metadata`,
/// `allowed-tools`, ...) are allowed and ignored here. Errors name the line in the file.
pub fn parse_front_matter(text: &str) -> Result<FrontMatter, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    if lines.next().map(str::trim_end) != Some("---") {
        return Err("no front matter: the file must start with a `---` line".to_string());
    }
    let start = text.find('\n').map_or(text.len(), |i| i + 1);
    let mut end = None;
    let mut offset = start;
    for line in lines {
        if matches!(line.trim_end(), "---" | "...") {
            end = Some(offset);
            break;
        }
        offset += line.len();
    }
    let Some(end) = end else {
        return Err("the front matter has no closing `---` line".to_string());
    };
    let yaml = &text[start..end];

    #[derive(Deserialize)]
    struct Raw {
        name: Option<String>,
        description: Option<String>,
    }
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    options.strict_booleans = true;
    let raw: Raw = serde_saphyr::from_str_with_options(yaml, options).map_err(|error| {
        // The front matter starts on the file's second line.
        let line = error.location().map_or(0, |location| location.line() + 1);
        let message = error.without_snippet().to_string();
        let message = message.lines().next().unwrap_or_default().to_string();
        if line > 0 {
            format!("front matter, line {line}: {message}")
        } else {
            format!("front matter: {message}")
        }
    })?;
    let name = raw.name.unwrap_or_default();
    if let Some(problem) = skill_name_problem(&name) {
        return Err(problem);
    }
    let description = raw.description.unwrap_or_default().trim().to_string();
    if description.is_empty() {
        return Err(format!("skill `{name}` has no `description`"));
    }
    let length = description.chars().count();
    if length > MAX_DESCRIPTION_CHARS {
        return Err(format!(
            "the description of skill `{name}` is {length} characters, more than {MAX_DESCRIPTION_CHARS}"
        ));
    }
    Ok(FrontMatter { name, description })
}

/// The Agent Skills name rule: 1 to 64 lowercase letters, digits and hyphens, no hyphen at
/// either end and no two in a row.
pub fn skill_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the front matter has no `name`".to_string());
    }
    let valid = name.len() <= 64
        && name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    (!valid).then(|| {
        format!(
            "skill name `{name}` must be 1 to 64 lowercase letters, digits and single hyphens, not starting or ending with a hyphen"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_skill(root: &Path, directory: &str, contents: &str) {
        let dir = root.join(directory);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(SKILL_FILE), contents).unwrap();
    }

    #[test]
    fn front_matter_gives_name_and_description() {
        let text = "---\nname: pdf-tools\ndescription: >-\n  Fill PDF forms.\n  Use for PDFs.\nlicense: MIT\nmetadata:\n  version: \"1\"\nallowed-tools: Bash(git:*)\n---\n# Body\n---\n";
        let front = parse_front_matter(text).unwrap();
        assert_eq!(front.name, "pdf-tools");
        assert_eq!(front.description, "Fill PDF forms. Use for PDFs.");
    }

    #[test]
    fn broken_front_matter_says_why() {
        let cases = [
            ("# no front matter\n", "must start with a `---` line"),
            ("---\nname: x\n", "no closing `---`"),
            ("---\ndescription: d\n---\n", "no `name`"),
            ("---\nname: Bad_Name\ndescription: d\n---\n", "lowercase"),
            ("---\nname: a--b\ndescription: d\n---\n", "single hyphens"),
            ("---\nname: ok\n---\n", "no `description`"),
            (
                "---\nname: ok\ndescription: [1, 2\n---\n",
                "front matter, line 3",
            ),
        ];
        for (text, needle) in cases {
            let message = parse_front_matter(text).unwrap_err();
            assert!(message.contains(needle), "{text:?}: {message}");
        }
        let long = format!("---\nname: ok\ndescription: {}\n---\n", "x".repeat(1025));
        assert!(
            parse_front_matter(&long)
                .unwrap_err()
                .contains("1025 characters")
        );
    }

    #[test]
    fn listing_skips_broken_skills_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_skill(
            root,
            "zeta",
            "---\nname: zeta\ndescription: Last one.\n---\n",
        );
        write_skill(
            root,
            "alpha",
            "---\nname: alpha\ndescription: First one.\n---\nbody\n",
        );
        write_skill(root, "broken", "no front matter\n");
        write_skill(root, "renamed", "---\nname: other\ndescription: d\n---\n");
        fs::create_dir_all(root.join("empty")).unwrap();
        fs::create_dir_all(root.join(".hidden")).unwrap();
        fs::write(root.join("README.md"), "not a skill").unwrap();

        let listing = list_skills(root);
        let names: Vec<&str> = listing.skills.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["alpha", "zeta"]);
        assert_eq!(listing.skills[0].description, "First one.");
        assert_eq!(listing.skills[0].path, root.join("alpha").join(SKILL_FILE));
        let warned: Vec<(PathBuf, &str)> = listing
            .warnings
            .iter()
            .map(|w| (w.path.clone(), w.message.as_str()))
            .collect();
        assert_eq!(warned.len(), 3, "{warned:?}");
        assert_eq!(warned[0].0, root.join("broken").join(SKILL_FILE));
        assert!(warned[1].1.contains("no SKILL.md"), "{}", warned[1].1);
        assert!(
            warned[2].1.contains("directory is `renamed`"),
            "{}",
            warned[2].1
        );
    }

    #[test]
    fn a_missing_directory_has_no_skills() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            list_skills(&dir.path().join("nope")),
            SkillListing::default()
        );
    }
}
