//! Agent Skills in a user's repository: `<skills folder>/<name>/SKILL.md` (the folder is
//! `skills_dir` in longrun.yaml, [`SKILLS_DIR`] by default), read only for the name and
//! description in their YAML front matter, which is all a worker prompt lists.
//!
//! It also owns the Agent Skills rules in full ([`check_skill_dir`], [`check_front_matter`]):
//! every violation is a [`Rule`] with a stable name, so `longrun skill check` and mining's
//! drafts agree with the reference validator, and [`render_skill_md`] writes front matter
//! that passes them.
//!
//! Reads files and nothing else: it never writes, prints or spawns. A broken skill never
//! stops a cycle: it is left out and described in a [`SkillWarning`] for the caller to show.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsutil;

/// Where skills live by default, relative to the repository root (`skills_dir` in
/// longrun.yaml moves them).
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

/// Longest `compatibility` the Agent Skills format allows, in characters.
pub const MAX_COMPATIBILITY_CHARS: usize = 500;

/// Longest skill name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// The front-matter keys the Agent Skills format allows; any other key is a violation.
pub const ALLOWED_KEYS: &[&str] = &[
    "name",
    "description",
    "license",
    "compatibility",
    "metadata",
    "allowed-tools",
];

/// A valid skill name (the Agent Skills name rule), for the command line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SkillName(String);

impl SkillName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for SkillName {
    type Err = String;

    fn from_str(text: &str) -> Result<SkillName, String> {
        match skill_name_problem(text) {
            Some(problem) => Err(problem),
            None => Ok(SkillName(text.to_string())),
        }
    }
}

impl std::fmt::Display for SkillName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One Agent Skills rule. The kebab-case name is what `longrun skill check` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The directory has a `SKILL.md`.
    SkillFile,
    /// `SKILL.md` starts with a `---` line (no byte-order mark before it), has a closing
    /// one, and holds a YAML mapping.
    FrontMatter,
    /// No `---` inside the front matter: the reference validator splits the file at the
    /// first `---` after the opening one, wherever it is, so it would end the front matter
    /// there.
    InnerDelimiter,
    /// Only the YAML the reference validator's reader (strictyaml) accepts: no flow-style
    /// `{...}` or `[...]`, no anchors (`&a`), aliases (`*a`) or tags (`!!str`).
    StrictYaml,
    /// Only the allowed keys appear.
    AllowedKeys,
    /// `name` is present and a string.
    NameRequired,
    /// `name` is 1 to 64 characters.
    NameLength,
    /// `name` is lowercase letters, digits and single inner hyphens.
    NameCharacters,
    /// `name` equals the directory's name.
    NameMatchesDirectory,
    /// `description` is present and not blank.
    DescriptionRequired,
    /// `description` is at most 1024 characters.
    DescriptionLength,
    /// `compatibility` is a string of at most 500 characters.
    CompatibilityLength,
    /// `metadata` maps strings to strings.
    MetadataStringMap,
    /// `license` and `allowed-tools` are strings.
    FieldType,
}

impl Rule {
    /// The rule's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::SkillFile => "skill-file",
            Rule::FrontMatter => "front-matter",
            Rule::InnerDelimiter => "inner-delimiter",
            Rule::StrictYaml => "strict-yaml",
            Rule::AllowedKeys => "allowed-keys",
            Rule::NameRequired => "name-required",
            Rule::NameLength => "name-length",
            Rule::NameCharacters => "name-characters",
            Rule::NameMatchesDirectory => "name-matches-directory",
            Rule::DescriptionRequired => "description-required",
            Rule::DescriptionLength => "description-length",
            Rule::CompatibilityLength => "compatibility-length",
            Rule::MetadataStringMap => "metadata-string-map",
            Rule::FieldType => "field-type",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A broken rule and what exactly is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub rule: Rule,
    pub message: String,
}

impl Violation {
    fn new(rule: Rule, message: impl Into<String>) -> Violation {
        Violation {
            rule,
            message: message.into(),
        }
    }
}

/// The verdict on one skill directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkillCheck {
    pub directory: PathBuf,
    /// The `name` from the front matter, when it could be read.
    pub name: Option<String>,
    pub description: Option<String>,
    /// Empty when the skill is valid.
    pub violations: Vec<Violation>,
}

impl SkillCheck {
    pub fn is_valid(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Checks one skill directory against every Agent Skills rule.
pub fn check_skill_dir(directory: &Path) -> SkillCheck {
    let mut check = SkillCheck {
        directory: directory.to_path_buf(),
        name: None,
        description: None,
        violations: Vec::new(),
    };
    let path = directory.join(SKILL_FILE);
    let text = match fsutil::read_text(&path, MAX_SKILL_FILE_BYTES) {
        Ok(text) => text,
        Err(error) => {
            let message = if error.is_not_found() && directory.join("skill.md").is_file() {
                // The reference validator reads `skill.md` too; the format names `SKILL.md`,
                // and agents that look for that name miss this one on a case-sensitive disk.
                format!(
                    "`{}` has no {SKILL_FILE}, only a lowercase `skill.md`; the Agent Skills format names it `{SKILL_FILE}`",
                    directory.display()
                )
            } else if error.is_not_found() {
                format!("`{}` has no {SKILL_FILE}", directory.display())
            } else {
                let mut message = error.to_string();
                if let Some(source) = std::error::Error::source(&error) {
                    message.push_str(&format!(": {source}"));
                }
                message
            };
            check
                .violations
                .push(Violation::new(Rule::SkillFile, message));
            return check;
        }
    };
    let directory_name = directory
        .file_name()
        .and_then(|name| name.to_str())
        .map(str::to_string);
    let (front, violations) = check_front_matter(&text, directory_name.as_deref());
    check.name = front.name;
    check.description = front.description;
    check.violations = violations;
    check
}

/// The fields [`check_front_matter`] could read, valid or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadFields {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// Checks the front matter of a `SKILL.md` text. `directory_name`, when given, must equal
/// the name. Violations come in rule order.
pub fn check_front_matter(
    text: &str,
    directory_name: Option<&str>,
) -> (ReadFields, Vec<Violation>) {
    let mut fields = ReadFields::default();
    let mut violations = Vec::new();
    if text.starts_with('\u{feff}') {
        violations.push(Violation::new(
            Rule::FrontMatter,
            "the file starts with a byte-order mark: readers that expect `---` as its first bytes (the reference validator) find no front matter; save it as UTF-8 without BOM",
        ));
        return (fields, violations);
    }
    let yaml = match front_matter_block(text) {
        Ok(yaml) => yaml,
        Err(message) => {
            violations.push(Violation::new(Rule::FrontMatter, message));
            return (fields, violations);
        }
    };
    if let Some(index) = yaml.find("---") {
        // The front matter starts on the file's second line.
        let line = yaml[..index].matches('\n').count() + 2;
        violations.push(Violation::new(
            Rule::InnerDelimiter,
            format!(
                "line {line} holds `---` inside the front matter: readers that split the file at the first `---` after the opening line (the reference validator does) would end the front matter there"
            ),
        ));
        return (fields, violations);
    }
    if let Some(problem) = strict_yaml_problem(yaml) {
        violations.push(Violation::new(Rule::StrictYaml, problem));
        return (fields, violations);
    }
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    options.strict_booleans = true;
    let mapping: BTreeMap<String, YamlValue> =
        match serde_saphyr::from_str_with_options(yaml, options) {
            Ok(mapping) => mapping,
            Err(error) => {
                let message = error.without_snippet().to_string();
                let message = message.lines().next().unwrap_or_default().to_string();
                violations.push(Violation::new(
                    Rule::FrontMatter,
                    format!("the front matter is not a YAML mapping: {message}"),
                ));
                return (fields, violations);
            }
        };
    let unknown: Vec<&str> = mapping
        .keys()
        .map(String::as_str)
        .filter(|key| !ALLOWED_KEYS.contains(key))
        .collect();
    if !unknown.is_empty() {
        violations.push(Violation::new(
            Rule::AllowedKeys,
            format!(
                "unexpected key(s) {}; only {} are allowed",
                unknown
                    .iter()
                    .map(|key| format!("`{key}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                ALLOWED_KEYS.join(", ")
            ),
        ));
    }
    match mapping.get("name") {
        Some(YamlValue::String(name)) if !name.trim().is_empty() => {
            fields.name = Some(name.clone());
            violations.extend(name_violations(name, directory_name));
        }
        Some(YamlValue::String(_)) | None | Some(YamlValue::Null) => violations.push(
            Violation::new(Rule::NameRequired, "the front matter has no `name`"),
        ),
        Some(_) => violations.push(Violation::new(
            Rule::NameRequired,
            "`name` must be a string",
        )),
    }
    match mapping.get("description") {
        Some(YamlValue::String(description)) if !description.trim().is_empty() => {
            fields.description = Some(description.trim().to_string());
            let length = description.chars().count();
            if length > MAX_DESCRIPTION_CHARS {
                violations.push(Violation::new(
                    Rule::DescriptionLength,
                    format!(
                        "`description` is {length} characters, more than {MAX_DESCRIPTION_CHARS}"
                    ),
                ));
            }
        }
        Some(YamlValue::String(_)) | None | Some(YamlValue::Null) => {
            violations.push(Violation::new(
                Rule::DescriptionRequired,
                "the front matter has no `description`",
            ))
        }
        Some(_) => violations.push(Violation::new(
            Rule::DescriptionRequired,
            "`description` must be a string",
        )),
    }
    match mapping.get("compatibility") {
        None => {}
        Some(YamlValue::String(text)) => {
            let length = text.chars().count();
            if length > MAX_COMPATIBILITY_CHARS {
                violations.push(Violation::new(
                    Rule::CompatibilityLength,
                    format!(
                        "`compatibility` is {length} characters, more than {MAX_COMPATIBILITY_CHARS}"
                    ),
                ));
            }
        }
        Some(_) => violations.push(Violation::new(
            Rule::CompatibilityLength,
            "`compatibility` must be a string",
        )),
    }
    match mapping.get("metadata") {
        None => {}
        Some(YamlValue::Map(entries)) => {
            if let Some((key, _)) = entries
                .iter()
                .find(|(_, value)| !matches!(value, YamlValue::String(_)))
            {
                violations.push(Violation::new(
                    Rule::MetadataStringMap,
                    format!("`metadata.{key}` must be a string (quote it)"),
                ));
            }
        }
        Some(_) => violations.push(Violation::new(
            Rule::MetadataStringMap,
            "`metadata` must be a mapping of strings to strings",
        )),
    }
    for key in ["license", "allowed-tools"] {
        if let Some(value) = mapping.get(key)
            && !matches!(value, YamlValue::String(_))
        {
            violations.push(Violation::new(
                Rule::FieldType,
                format!("`{key}` must be a string"),
            ));
        }
    }
    violations.sort_by_key(|violation| violation.rule);
    (fields, violations)
}

fn name_violations(name: &str, directory_name: Option<&str>) -> Vec<Violation> {
    let mut violations = Vec::new();
    let length = name.chars().count();
    if length > MAX_NAME_CHARS {
        violations.push(Violation::new(
            Rule::NameLength,
            format!("`name` is {length} characters, more than {MAX_NAME_CHARS}"),
        ));
    }
    if let Some(problem) = skill_name_problem(name)
        && length <= MAX_NAME_CHARS
    {
        violations.push(Violation::new(Rule::NameCharacters, problem));
    } else if length > MAX_NAME_CHARS
        && !name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
    {
        violations.push(Violation::new(
            Rule::NameCharacters,
            format!("skill name `{name}` has characters other than a-z, 0-9 and `-`"),
        ));
    }
    if let Some(directory_name) = directory_name
        && directory_name != name
    {
        violations.push(Violation::new(
            Rule::NameMatchesDirectory,
            format!("the skill is named `{name}` but its directory is `{directory_name}`"),
        ));
    }
    violations
}

/// The first construct of the front matter that strictyaml (the YAML reader of the
/// reference validator, `skills-ref`) refuses, so that a skill longrun calls valid is valid
/// there too: a flow-style mapping or sequence, an anchor, an alias, a tag. `None` when
/// there is none, or when the text does not parse at all (the typed parse reports that).
fn strict_yaml_problem(yaml: &str) -> Option<String> {
    use granit_parser::{Event, Parser, StructureStyle};
    let mut parser = Parser::new_from_str(yaml);
    while let Some(next) = parser.next_event() {
        let (event, span) = next.ok()?;
        let (flow, anchor, tagged) = match &event {
            Event::MappingStart(style, anchor, tag) => (
                (*style == StructureStyle::Flow).then_some("a flow-style mapping `{...}`"),
                *anchor,
                tag.is_some(),
            ),
            Event::SequenceStart(style, anchor, tag) => (
                (*style == StructureStyle::Flow).then_some("a flow-style sequence `[...]`"),
                *anchor,
                tag.is_some(),
            ),
            Event::Scalar(_, _, anchor, tag) => (None, *anchor, tag.is_some()),
            Event::Alias(_) => (Some("an alias `*name`"), 0, false),
            _ => (None, 0, false),
        };
        let what = match (flow, anchor, tagged) {
            (Some(what), _, _) => what,
            (None, anchor, _) if anchor != 0 => "an anchor `&name`",
            (None, _, true) => "a tag (`!!str`, `!name`)",
            _ => continue,
        };
        // The front matter starts on the file's second line.
        let marker = span
            .tag_start
            .filter(|_| tagged && flow.is_none() && anchor == 0);
        let line = marker.unwrap_or(span.start).line() + 1;
        return Some(format!(
            "line {line} uses {what}, which the reference validator's YAML reader (strictyaml) refuses; write block style (`key: value` lines, `- item` lines) and plain or quoted values"
        ));
    }
    None
}

/// The YAML between the first line `---` and the next `---` line.
fn front_matter_block(text: &str) -> Result<&str, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    if lines.next().map(str::trim_end) != Some("---") {
        return Err("no front matter: the file must start with a `---` line".to_string());
    }
    let start = text.find('\n').map_or(text.len(), |i| i + 1);
    let mut offset = start;
    for line in lines {
        if line.trim_end() == "---" {
            return Ok(&text[start..offset]);
        }
        offset += line.len();
    }
    Err("the front matter has no closing `---` line".to_string())
}

/// Just enough of a YAML value to check the front matter's types.
#[derive(Debug, Clone, PartialEq)]
enum YamlValue {
    Null,
    Bool,
    Number,
    String(String),
    Sequence,
    Map(BTreeMap<String, YamlValue>),
}

impl<'de> Deserialize<'de> for YamlValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = YamlValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a YAML value")
            }
            fn visit_unit<E>(self) -> Result<YamlValue, E> {
                Ok(YamlValue::Null)
            }
            fn visit_none<E>(self) -> Result<YamlValue, E> {
                Ok(YamlValue::Null)
            }
            fn visit_some<D: serde::Deserializer<'de>>(
                self,
                deserializer: D,
            ) -> Result<YamlValue, D::Error> {
                YamlValue::deserialize(deserializer)
            }
            fn visit_bool<E>(self, _: bool) -> Result<YamlValue, E> {
                Ok(YamlValue::Bool)
            }
            fn visit_i64<E>(self, _: i64) -> Result<YamlValue, E> {
                Ok(YamlValue::Number)
            }
            fn visit_u64<E>(self, _: u64) -> Result<YamlValue, E> {
                Ok(YamlValue::Number)
            }
            fn visit_f64<E>(self, _: f64) -> Result<YamlValue, E> {
                Ok(YamlValue::Number)
            }
            fn visit_str<E>(self, value: &str) -> Result<YamlValue, E> {
                Ok(YamlValue::String(value.to_string()))
            }
            fn visit_string<E>(self, value: String) -> Result<YamlValue, E> {
                Ok(YamlValue::String(value))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<YamlValue, A::Error> {
                while seq.next_element::<YamlValue>()?.is_some() {}
                Ok(YamlValue::Sequence)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<YamlValue, A::Error> {
                let mut entries = BTreeMap::new();
                while let Some((key, value)) = map.next_entry::<String, YamlValue>()? {
                    entries.insert(key, value);
                }
                Ok(YamlValue::Map(entries))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// What a generated `SKILL.md` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillDraft {
    pub name: String,
    pub description: String,
    /// `metadata` entries, written in this order.
    pub metadata: Vec<(String, String)>,
    /// The Markdown after the front matter.
    pub body: String,
}

/// Renders a `SKILL.md` whose front matter passes [`check_front_matter`] when the name is
/// valid: values are single-quoted on one line, and the description is cut to the limit
/// with any `---` rewritten (mined drafts; `skill new` refuses such a description instead).
pub fn render_skill_md(draft: &SkillDraft) -> String {
    let description = one_line(&draft.description, MAX_DESCRIPTION_CHARS);
    let mut out = String::from("---\n");
    out.push_str(&format!("name: {}\n", draft.name));
    out.push_str(&format!("description: {}\n", yaml_quote(&description)));
    if !draft.metadata.is_empty() {
        out.push_str("metadata:\n");
        for (key, value) in &draft.metadata {
            out.push_str(&format!(
                "  {}: {}\n",
                key,
                yaml_quote(&one_line(value, 200))
            ));
        }
    }
    out.push_str("---\n\n");
    out.push_str(draft.body.trim_start());
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// A value on one line, at most `limit` characters, without `---` (which a front-matter
/// splitter could take for the closing line).
fn one_line(text: &str, limit: usize) -> String {
    let flat: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("---", "-");
    let mut cut: String = flat.chars().take(limit).collect();
    if cut.trim().is_empty() {
        cut = "(none)".to_string();
    }
    cut.trim().to_string()
}

fn yaml_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
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
    fn every_builtin_skill_passes_every_rule() {
        for (name, text) in crate::templates::BUILTIN_SKILLS {
            let (fields, violations) = check_front_matter(text, Some(name));
            assert!(violations.is_empty(), "{name}: {violations:?}");
            assert_eq!(fields.name.as_deref(), Some(*name));
        }
    }

    #[test]
    fn each_broken_rule_is_named() {
        let cases: &[(&str, Option<&str>, Rule)] = &[
            ("no front matter\n", None, Rule::FrontMatter),
            ("---\nname: a\n", None, Rule::FrontMatter),
            ("---\n- a\n---\n", None, Rule::FrontMatter),
            (
                "---\nname: a\ndescription: d\nversion: '1'\n---\n",
                None,
                Rule::AllowedKeys,
            ),
            ("---\ndescription: d\n---\n", None, Rule::NameRequired),
            (
                "---\nname: Abc\ndescription: d\n---\n",
                None,
                Rule::NameCharacters,
            ),
            (
                "---\nname: -a\ndescription: d\n---\n",
                None,
                Rule::NameCharacters,
            ),
            (
                "---\nname: a--b\ndescription: d\n---\n",
                None,
                Rule::NameCharacters,
            ),
            (
                "---\nname: a\ndescription: d\n---\n",
                Some("b"),
                Rule::NameMatchesDirectory,
            ),
            (
                "---\nname: a\ndescription: '  '\n---\n",
                None,
                Rule::DescriptionRequired,
            ),
            (
                "---\nname: a\ndescription: d\nmetadata:\n  v: 1\n---\n",
                None,
                Rule::MetadataStringMap,
            ),
            (
                "---\nname: a\ndescription: d\nmetadata: x\n---\n",
                None,
                Rule::MetadataStringMap,
            ),
            (
                "\u{feff}---\nname: a\ndescription: d\n---\n",
                None,
                Rule::FrontMatter,
            ),
            (
                "---\nname: a\ndescription: 'x --- y'\n---\n",
                None,
                Rule::InnerDelimiter,
            ),
            (
                "---\nname: a\ndescription: d\nmetadata: {k: v}\n---\n",
                None,
                Rule::StrictYaml,
            ),
            (
                "---\nname: a\ndescription: d\nallowed-tools: []\n---\n",
                None,
                Rule::StrictYaml,
            ),
            (
                "---\nname: a\ndescription: &d d\nlicense: *d\n---\n",
                None,
                Rule::StrictYaml,
            ),
            (
                "---\nname: a\ndescription: !!str d\n---\n",
                None,
                Rule::StrictYaml,
            ),
        ];
        for (text, directory, rule) in cases {
            let (_, violations) = check_front_matter(text, *directory);
            let rules: Vec<Rule> = violations.iter().map(|v| v.rule).collect();
            assert_eq!(rules, [*rule], "{text:?}: {violations:?}");
        }
        let long_name = format!("---\nname: {}\ndescription: d\n---\n", "a".repeat(65));
        assert_eq!(
            check_front_matter(&long_name, None).1[0].rule,
            Rule::NameLength
        );
        let long = format!("---\nname: a\ndescription: {}\n---\n", "x".repeat(1025));
        assert_eq!(
            check_front_matter(&long, None).1[0].rule,
            Rule::DescriptionLength
        );
        let compat = format!(
            "---\nname: a\ndescription: d\ncompatibility: {}\n---\n",
            "x".repeat(501)
        );
        assert_eq!(
            check_front_matter(&compat, None).1[0].rule,
            Rule::CompatibilityLength
        );
    }

    #[test]
    fn strict_yaml_names_the_line_and_spares_plain_text() {
        let (_, violations) = check_front_matter(
            "---\nname: a\ndescription: d\nmetadata:\n  k: [v]\n---\n",
            None,
        );
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(
            violations[0]
                .message
                .starts_with("line 5 uses a flow-style sequence"),
            "{violations:?}"
        );
        let plain = "---\nname: a\ndescription: see [x] and {y} here\nmetadata:\n  k: '{a: b} [c]'\n---\nbody --- text\n---\n";
        let (fields, violations) = check_front_matter(plain, None);
        assert!(violations.is_empty(), "{violations:?}");
        assert_eq!(fields.description.as_deref(), Some("see [x] and {y} here"));
    }

    #[test]
    fn rendered_drafts_are_valid_whatever_the_text() {
        let draft = SkillDraft {
            name: "fix-cargo-test".to_string(),
            description: format!("it's: a #tricky --- \"text\"\n{}", "y".repeat(2000)),
            metadata: vec![("count".to_string(), "3".to_string())],
            body: "# Body\n".to_string(),
        };
        let text = render_skill_md(&draft);
        let (fields, violations) = check_front_matter(&text, Some("fix-cargo-test"));
        assert!(violations.is_empty(), "{text}\n{violations:?}");
        assert!(
            fields
                .description
                .unwrap()
                .starts_with("it's: a #tricky - \"text\" y")
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
