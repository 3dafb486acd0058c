//! Finding and reading rule files, in SpamAssassin's order.
//!
//! [`load`] reads each given path. A directory contributes its `*.pre` files
//! and then its `*.cf` files in lexical order, and the `.pre` files of all
//! directories come first, because SpamAssassin loads plugin lists before
//! rules. A path to a file is read as it is. `include` paths are relative to the including file; an
//! include that is already open (a loop) or deeper than
//! [`INCLUDE_DEPTH_MAX`] is refused with a warning. After the last file,
//! ReplaceTags expands `<TAG>`s in the rules listed by `replace_rules`.
//!
//! [`load_default`] picks SpamAssassin's stock locations and falls back to
//! Ringmail's own rule set, embedded from `spam/rules/ringmail.cf`.
//! All reads go through [`RuleSource`], so tests can load from memory.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::model::{Origin, ReplaceTags, RuleModel, Test};
use super::parse::Parser;
use super::{LoadOptions, FILES_MAX, FILE_SIZE_MAX, INCLUDE_DEPTH_MAX};

/// Ringmail's own rule set, used when SpamAssassin's rules are not installed.
pub const EMBEDDED_RULES: &str = include_str!("../../rules/ringmail.cf");

/// The plugin that enables `replace_rules`.
const REPLACE_TAGS_PLUGIN: &str = "Mail::SpamAssassin::Plugin::ReplaceTags";

/// Maximum ReplaceTags passes per pattern; SpamAssassin 4.0.1 stops after
/// the same count, so tags nested deeper stay unexpanded there too.
const REPLACE_PASSES_MAX: usize = 6;

/// A fatal load failure. Problems with single lines are warnings instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// A requested file or directory could not be read.
    Io { path: String, message: String },
    /// More than [`FILES_MAX`] files.
    TooManyFiles { max: usize },
    /// More than [`RULES_MAX`](super::RULES_MAX) rule names.
    TooManyRules { max: usize },
    /// A requested file is larger than [`FILE_SIZE_MAX`].
    FileTooLarge { path: String, max: usize },
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io { path, message } => {
                write!(formatter, "cannot read rules from {path}: {message}")
            }
            LoadError::TooManyFiles { max } => {
                write!(formatter, "rule files exceed the maximum of {max}")
            }
            LoadError::TooManyRules { max } => {
                write!(formatter, "rule names exceed the maximum of {max}")
            }
            LoadError::FileTooLarge { path, max } => {
                write!(
                    formatter,
                    "rule file {path} exceeds the maximum of {max} bytes"
                )
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// A store of rule files: the file system, or memory in tests.
pub trait RuleSource {
    /// Reads a whole file, failing past [`FILE_SIZE_MAX`] bytes.
    fn read(&self, path: &Path) -> Result<Vec<u8>, LoadError>;
    /// Returns whether `path` is a directory.
    fn is_dir(&self, path: &Path) -> bool;
    /// Lists the files directly in `dir`, in lexical order.
    fn list(&self, dir: &Path) -> Result<Vec<PathBuf>, LoadError>;
}

/// The real file system.
pub struct FileSource;

impl RuleSource for FileSource {
    fn read(&self, path: &Path) -> Result<Vec<u8>, LoadError> {
        let io_error = |error: std::io::Error| LoadError::Io {
            path: path.display().to_string(),
            message: error.to_string(),
        };
        let file = std::fs::File::open(path).map_err(io_error)?;
        let mut bytes = Vec::new();
        file.take(FILE_SIZE_MAX as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error)?;
        if bytes.len() > FILE_SIZE_MAX {
            return Err(LoadError::FileTooLarge {
                path: path.display().to_string(),
                max: FILE_SIZE_MAX,
            });
        }
        Ok(bytes)
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn list(&self, dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
        let entries = std::fs::read_dir(dir).map_err(|error| LoadError::Io {
            path: dir.display().to_string(),
            message: error.to_string(),
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.path())
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        Ok(files)
    }
}

/// Files held in memory, keyed by path; a directory is any path prefix.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    pub files: BTreeMap<PathBuf, Vec<u8>>,
}

impl MemorySource {
    /// Creates a source from `(path, contents)` pairs.
    pub fn new<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> MemorySource {
        MemorySource {
            files: files
                .into_iter()
                .map(|(path, text)| (PathBuf::from(path), text.as_bytes().to_vec()))
                .collect(),
        }
    }
}

impl RuleSource for MemorySource {
    fn read(&self, path: &Path) -> Result<Vec<u8>, LoadError> {
        let bytes = self.files.get(path).ok_or_else(|| LoadError::Io {
            path: path.display().to_string(),
            message: "not found".to_string(),
        })?;
        if bytes.len() > FILE_SIZE_MAX {
            return Err(LoadError::FileTooLarge {
                path: path.display().to_string(),
                max: FILE_SIZE_MAX,
            });
        }
        Ok(bytes.clone())
    }

    fn is_dir(&self, path: &Path) -> bool {
        !self.files.contains_key(path) && self.files.keys().any(|file| file.starts_with(path))
    }

    fn list(&self, dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
        Ok(self
            .files
            .keys()
            .filter(|file| file.parent() == Some(dir))
            .cloned()
            .collect())
    }
}

/// Loads the files and directories in `paths`, in SpamAssassin's order.
pub fn load(
    source: &dyn RuleSource,
    paths: &[PathBuf],
    options: LoadOptions,
) -> Result<RuleModel, LoadError> {
    let mut pre_files = Vec::new();
    let mut cf_files = Vec::new();
    for path in paths {
        if source.is_dir(path) {
            for file in source.list(path)? {
                match file.extension().and_then(|extension| extension.to_str()) {
                    Some("pre") => pre_files.push(file),
                    Some("cf") => cf_files.push(file),
                    _ => {}
                }
            }
        } else {
            cf_files.push(path.clone());
        }
    }

    let mut loader = Loader {
        source,
        open_files: Vec::new(),
    };
    let mut parser = Parser::new(options);
    for file in pre_files.iter().chain(&cf_files) {
        loader.load_file(&mut parser, file)?;
    }
    Ok(finish(parser))
}

/// Loads every `.pre` and `.cf` file in `dir`.
pub fn load_dir(dir: &Path, options: LoadOptions) -> Result<RuleModel, LoadError> {
    load(&FileSource, &[dir.to_path_buf()], options)
}

/// Loads Ringmail's embedded rule set.
pub fn load_embedded(options: LoadOptions) -> Result<RuleModel, LoadError> {
    let source = MemorySource::new([("ringmail.cf", EMBEDDED_RULES)]);
    load(&source, &[PathBuf::from("ringmail.cf")], options)
}

/// The directories [`load_default`] looks in, so that tests and packagers
/// can point it elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultLocations {
    /// Parent of sa-update's `<version>/updates_spamassassin_org`
    /// directories. Default: `/var/lib/spamassassin`.
    pub updates_dir: PathBuf,
    /// The distribution's stock rules. Default: `/usr/share/spamassassin`.
    pub stock_dir: PathBuf,
    /// The site configuration, read after the rules when it exists.
    /// Default: `/etc/spamassassin`.
    pub site_dir: PathBuf,
}

impl Default for DefaultLocations {
    fn default() -> DefaultLocations {
        DefaultLocations {
            updates_dir: PathBuf::from("/var/lib/spamassassin"),
            stock_dir: PathBuf::from("/usr/share/spamassassin"),
            site_dir: PathBuf::from("/etc/spamassassin"),
        }
    }
}

/// Loads SpamAssassin's rules from their stock locations, as
/// [`load_default_from`] does with [`DefaultLocations::default`].
pub fn load_default(options: LoadOptions) -> Result<(RuleModel, Vec<PathBuf>), LoadError> {
    load_default_from(&DefaultLocations::default(), options)
}

/// Loads SpamAssassin's rules from `locations`. The rules come from the
/// newest sa-update directory `<updates_dir>/<version>/updates_spamassassin_org`
/// if it contains `.cf` files, else from `stock_dir`. Then `site_dir`
/// follows, with the `.pre` plugin lists, `local.cf` and the distribution's
/// additions. Without either rules directory, loads the embedded rule set
/// and ignores `site_dir`. Returns the model and the paths read (empty for
/// the embedded set).
pub fn load_default_from(
    locations: &DefaultLocations,
    options: LoadOptions,
) -> Result<(RuleModel, Vec<PathBuf>), LoadError> {
    let Some(rules_dir) = default_rules_dir(locations) else {
        return Ok((load_embedded(options)?, Vec::new()));
    };
    let mut paths = vec![rules_dir];
    if locations.site_dir.is_dir() {
        paths.push(locations.site_dir.clone());
    }
    let model = load(&FileSource, &paths, options)?;
    Ok((model, paths))
}

fn default_rules_dir(locations: &DefaultLocations) -> Option<PathBuf> {
    let mut updates: Vec<PathBuf> = std::fs::read_dir(&locations.updates_dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path().join("updates_spamassassin_org"))
        .filter(|dir| has_cf_files(dir))
        .collect();
    updates.sort();
    if let Some(newest) = updates.pop() {
        return Some(newest);
    }
    has_cf_files(&locations.stock_dir).then(|| locations.stock_dir.clone())
}

fn has_cf_files(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok())
        .any(|entry| {
            entry
                .path()
                .extension()
                .is_some_and(|extension| extension == "cf")
        })
}

struct Loader<'s> {
    source: &'s dyn RuleSource,
    /// Files being parsed, outermost first: the include chain.
    open_files: Vec<PathBuf>,
}

impl Loader<'_> {
    fn load_file(&mut self, parser: &mut Parser, path: &Path) -> Result<(), LoadError> {
        if parser.model().files.len() >= FILES_MAX {
            return Err(LoadError::TooManyFiles { max: FILES_MAX });
        }
        let bytes = self.source.read(path)?;
        let name = path.display().to_string();
        parser.model_mut().files.push(name.clone());

        self.open_files.push(path.to_path_buf());
        let result = parser.parse_text(&name, &bytes, &mut |parser, target, origin| {
            self.include(parser, target, origin)
        });
        self.open_files.pop();
        result
    }

    fn include(
        &mut self,
        parser: &mut Parser,
        target: &str,
        origin: &Origin,
    ) -> Result<(), LoadError> {
        let target = target.trim();
        if target.is_empty() {
            parser.warn(origin, "include needs a file name".to_string());
            return Ok(());
        }
        let current_dir = self
            .open_files
            .last()
            .and_then(|file| file.parent())
            .unwrap_or(Path::new(""));
        let path = normalize(&current_dir.join(target));

        if self.open_files.iter().any(|open| normalize(open) == path) {
            let message = format!(
                "include of {} rejected: the file is already open (an include loop)",
                path.display()
            );
            parser.warn(origin, message);
            return Ok(());
        }
        // The top-level file is not an include, so the depth is one less
        // than the count of open files.
        if self.open_files.len() > INCLUDE_DEPTH_MAX {
            let message = format!(
                "include of {} rejected: nesting exceeds the maximum of {INCLUDE_DEPTH_MAX}",
                path.display()
            );
            parser.warn(origin, message);
            return Ok(());
        }
        match self.load_file(parser, &path) {
            Err(LoadError::Io { path, message }) => {
                parser.warn(origin, format!("include of {path} failed: {message}"));
                Ok(())
            }
            other => other,
        }
    }
}

/// Removes `.` and resolves `..` textually, so that the loop check compares
/// one name per file without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut normalized = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !normalized.pop() {
                    normalized.push("..");
                }
            }
            other => normalized.push(other),
        }
    }
    normalized
}

/// Applies ReplaceTags when its plugin is loaded, and returns the model.
fn finish(parser: Parser) -> RuleModel {
    let mut model = parser.into_model();
    if !model
        .plugins
        .iter()
        .any(|plugin| plugin == REPLACE_TAGS_PLUGIN)
    {
        return model;
    }
    let tags = std::mem::take(&mut model.replace_tags);
    for name in &tags.rules {
        let Some(id) = model.id(name) else {
            continue;
        };
        let pattern = match &mut model.rules[id.index()].definition {
            Some((_, Test::Regex(pattern))) => pattern,
            Some((_, Test::Header { pattern, .. })) => pattern,
            _ => continue,
        };
        pattern.source = replace_tags(&pattern.source, &tags);
    }
    model.replace_tags = tags;
    model
}

/// Expands ReplaceTags markup in `pattern`. Each pass removes the first
/// `<pre NAME>`, `<post NAME>` and `<inter NAME>`, whose values go before each
/// tag, after each tag and between adjacent tags. Then each `<TAG>` with a
/// non-empty `replace_tag` value is replaced by it. A value that contains
/// tags causes another pass.
pub fn replace_tags(pattern: &str, tags: &ReplaceTags) -> String {
    let mut text = pattern.to_string();
    for _ in 0..REPLACE_PASSES_MAX {
        let pre = take_modifier(&mut text, "pre")
            .and_then(|name| tags.pre.get(&name))
            .filter(|value| !value.is_empty());
        let post = take_modifier(&mut text, "post")
            .and_then(|name| tags.post.get(&name))
            .filter(|value| !value.is_empty());
        let inter = take_modifier(&mut text, "inter")
            .and_then(|name| tags.inter.get(&name))
            .filter(|value| !value.is_empty());

        let mut again = false;
        let mut output = String::with_capacity(text.len());
        for piece in split_tags(&text) {
            match piece {
                Piece::Text("") => output.push_str(inter.map_or("", String::as_str)),
                Piece::Text(plain) => output.push_str(plain),
                Piece::Tag(name) => {
                    output.push_str(pre.map_or("", String::as_str));
                    match tags.tags.get(name).filter(|value| !value.is_empty()) {
                        Some(value) => {
                            again |= split_tags(value)
                                .iter()
                                .any(|piece| matches!(piece, Piece::Tag(_)));
                            output.push_str(value);
                        }
                        None => {
                            output.push('<');
                            output.push_str(name);
                            output.push('>');
                        }
                    }
                    output.push_str(post.map_or("", String::as_str));
                }
            }
        }
        text = output;
        if !again {
            break;
        }
    }
    text
}

#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    Tag(&'a str),
}

/// Splits `text` around `<NAME>` tags (no `<` or `>` inside). An empty text
/// piece is put between adjacent tags and before a leading tag, but not
/// after a trailing one.
fn split_tags(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut text_start = 0;
    let mut search = 0;
    let bytes = text.as_bytes();
    while let Some(open) = bytes[search..]
        .iter()
        .position(|&byte| byte == b'<')
        .map(|offset| search + offset)
    {
        let close = bytes[open + 1..]
            .iter()
            .position(|&byte| byte == b'<' || byte == b'>')
            .map(|offset| open + 1 + offset);
        match close {
            Some(close) if bytes[close] == b'>' && close > open + 1 => {
                pieces.push(Piece::Text(&text[text_start..open]));
                pieces.push(Piece::Tag(&text[open + 1..close]));
                text_start = close + 1;
                search = close + 1;
            }
            Some(close) => search = close,
            None => break,
        }
    }
    if text_start < text.len() {
        pieces.push(Piece::Text(&text[text_start..]));
    }
    pieces
}

/// Removes the first `<KIND NAME>` from `text` and returns NAME.
fn take_modifier(text: &mut String, kind: &str) -> Option<String> {
    let marker = format!("<{kind} ");
    let start = text.find(&marker)?;
    let end = start + text[start..].find('>')?;
    let name = text[start + marker.len()..end].to_string();
    text.replace_range(start..=end, "");
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags() -> ReplaceTags {
        let mut tags = ReplaceTags::default();
        tags.tags.insert("A".into(), "[a@]".into());
        tags.tags.insert("B".into(), "b".into());
        tags.tags.insert("AB".into(), "<A><B>".into());
        tags.inter.insert("W1".into(), "\\W?".into());
        tags.post.insert("P2".into(), "{1,2}".into());
        tags.pre.insert("L".into(), "\\b".into());
        tags
    }

    #[test]
    fn replace_tags_table() {
        let cases = [
            ("<A>x", "[a@]x"),
            ("x<A>y<B>", "x[a@]yb"),
            ("<inter W1><A><B>", "\\W?[a@]\\W?b"),
            ("<post P2><A>", "[a@]{1,2}"),
            ("<pre L>x<A>", "x\\b[a@]"),
            ("<AB>", "[a@]b"),
            ("<UNKNOWN>z", "<UNKNOWN>z"),
            ("a<b", "a<b"),
            ("(?<name>x)", "(?<name>x)"),
        ];
        for (input, expected) in cases {
            assert_eq!(replace_tags(input, &tags()), expected, "input {input:?}");
        }
    }

    #[test]
    fn normalize_resolves_dots() {
        assert_eq!(
            normalize(Path::new("/a/./b/../c.cf")),
            PathBuf::from("/a/c.cf")
        );
    }
}
