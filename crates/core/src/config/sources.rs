//! [`ConfigSources`]: where the layers come from (a file path, a set of environment variables),
//! and [`Settings::load`]: defaults < file < variables, merged with config-rs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use config::{Config as Layers, ConfigError, File, FileFormat, Value, ValueKind};

use super::keys::{ALIASES, CONFIG_FILE_VARIABLE, ENV_PREFIX, LIST_KEYS};
use super::settings::{Settings, WatchEntry, split_list};
use super::{DEFAULT_FILE, config_error, shorten};
use crate::CoreError;

/// Which file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FileChoice {
    /// No file.
    None,
    /// This file if it exists.
    Optional(PathBuf),
    /// This file; missing or unreadable is an error.
    Required(PathBuf),
}

/// The inputs of the configuration: an optional `finstage.toml` and the `FINSTAGE_*` variables.
/// Built from an explicit list of variables (tests never touch the process environment), or from
/// the process's own with [`from_process_env`](Self::from_process_env).
///
/// ```
/// use finstage_core::config::{ConfigSources, Settings};
///
/// let sources = ConfigSources::new().with_var("FINSTAGE_HTTP_ADDR", "0.0.0.0:8080");
/// let config = Settings::load(&sources)?.resolve()?;
/// assert_eq!(config.api.http_addr.port(), 8080);
/// # Ok::<(), finstage_core::CoreError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ConfigSources {
    file: FileChoice,
    env: BTreeMap<String, String>,
}

impl Default for ConfigSources {
    fn default() -> Self {
        Self::new()
    }
}

impl ConfigSources {
    /// No file, no variables: the built-in defaults.
    pub fn new() -> Self {
        Self {
            file: FileChoice::None,
            env: BTreeMap::new(),
        }
    }

    /// The variables `vars` (those not starting with `FINSTAGE_` are ignored), and the file
    /// they name: `FINSTAGE_CONFIG` when set and not empty (it must exist then), else
    /// `./finstage.toml` if it exists.
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let env: BTreeMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        let file = match env.get(CONFIG_FILE_VARIABLE).filter(|path| !path.trim().is_empty()) {
            Some(path) => FileChoice::Required(PathBuf::from(path)),
            None => FileChoice::Optional(PathBuf::from(DEFAULT_FILE)),
        };
        Self { file, env }
    }

    /// [`from_vars`](Self::from_vars) over the process's environment (variables that are not
    /// valid Unicode are skipped).
    pub fn from_process_env() -> Self {
        Self::from_vars(std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))))
    }

    /// Reads `path`, which must exist.
    #[must_use]
    pub fn with_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = FileChoice::Required(path.into());
        self
    }

    /// Reads `path` if it exists.
    #[must_use]
    pub fn with_optional_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = FileChoice::Optional(path.into());
        self
    }

    /// Reads no file.
    #[must_use]
    pub fn without_file(mut self) -> Self {
        self.file = FileChoice::None;
        self
    }

    /// Adds (or replaces) one variable.
    #[must_use]
    pub fn with_var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }

    /// The file that will be read, if any (an optional file only if it exists).
    pub fn file(&self) -> Option<&Path> {
        match &self.file {
            FileChoice::None => None,
            FileChoice::Optional(path) => path.is_file().then_some(path.as_path()),
            FileChoice::Required(path) => Some(path),
        }
    }

    /// `FINSTAGE_*` variables that set no key (neither a fixed name nor a `__` form, nor
    /// `FINSTAGE_CONFIG`): other tools' variables, or a misspelt name (`FINSTAGE_HTTP_ADR`). The
    /// binaries log them as warnings.
    pub fn unused_variables(&self) -> Vec<&str> {
        self.env
            .keys()
            .filter(|name| name.as_str() != CONFIG_FILE_VARIABLE && key_of_variable(name).is_none())
            .map(String::as_str)
            .collect()
    }

    /// (variable, dotted key, value) of every variable that sets a key.
    fn overrides(&self) -> impl Iterator<Item = (&str, String, &str)> {
        self.env
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), key_of_variable(name)?, value.as_str())))
    }
}

/// The dotted key a variable sets: a fixed name, or the `FINSTAGE_SECTION__KEY` form
/// (lower-cased).
fn key_of_variable(name: &str) -> Option<String> {
    if let Some((_, key)) = ALIASES.iter().find(|(variable, _)| *variable == name) {
        return Some((*key).to_owned());
    }
    let rest = name.strip_prefix(ENV_PREFIX)?;
    rest.contains("__").then(|| {
        rest.split("__")
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>()
            .join(".")
    })
}

impl Settings {
    /// The settings of the process: [`ConfigSources::from_process_env`], loaded.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn from_process_env() -> Result<Self, CoreError> {
        Self::load(&ConfigSources::from_process_env())
    }

    /// Merges the built-in defaults, the file and the variables of `sources`.
    ///
    /// # Errors
    /// [`CoreError::Config`] when the file is missing (if required), unreadable or not TOML, a key
    /// is unknown, two variables set one key, or a value has the wrong type (`"x"` for a
    /// number). Values are checked further by [`resolve`](Self::resolve).
    pub fn load(sources: &ConfigSources) -> Result<Self, CoreError> {
        let defaults = Layers::try_from(&Self::default()).map_err(|e| config_error("", format!("defaults: {e}")))?;
        let mut builder = Layers::builder().add_source(defaults);
        if let Some(path) = sources.file() {
            let text = std::fs::read_to_string(path).map_err(|e| {
                let via = match sources.file {
                    FileChoice::Required(_) if sources.env.contains_key(CONFIG_FILE_VARIABLE) => {
                        format!("{CONFIG_FILE_VARIABLE}: ")
                    }
                    _ => String::new(),
                };
                config_error("", format!("{via}cannot read {}: {e}", path.display()))
            })?;
            builder = builder.add_source(File::from_str(&text, FileFormat::Toml));
            // A parse error is reported here, with the file's name and without the offending
            // line (it may hold a secret).
            Layers::builder()
                .add_source(File::from_str(&text, FileFormat::Toml))
                .build()
                .map_err(|e| config_error("", format!("{}: {}", path.display(), toml_error(&e))))?;
        }

        let mut origins: BTreeMap<String, String> = BTreeMap::new();
        let mut watchlist: Option<(&str, &str)> = None;
        for (variable, key, value) in sources.overrides() {
            if let Some(other) = origins.insert(key.clone(), variable.to_owned()) {
                return Err(config_error(
                    &key,
                    format!("{other} and {variable} ({key}): both set the key; keep one"),
                ));
            }
            if key == "watchlist.symbols" {
                watchlist = Some((variable, value));
                continue;
            }
            let value = if LIST_KEYS.contains(&key.as_str()) {
                list_value(value).map_err(|message| config_error(&key, format!("{variable} ({key}): {message}")))?
            } else {
                Value::new(None, ValueKind::String(value.to_owned()))
            };
            builder = builder
                .set_override(&key, value)
                .map_err(|_| config_error(&key, format!("{variable}: {key:?} is not a configuration key")))?;
        }

        let origins_for_errors = origins.clone();
        let layers = builder.build().map_err(|e| deserialize_error(e, &origins_for_errors))?;
        let mut settings: Self = layers
            .try_deserialize()
            .map_err(|e| deserialize_error(e, &origins_for_errors))?;
        if let Some((_, value)) = watchlist {
            // The file's entries give the categories and names of the symbols the variable lists.
            let known = std::mem::take(&mut settings.watchlist.symbols);
            settings.watchlist.symbols = split_list(value)
                .map(|symbol| {
                    known
                        .iter()
                        .find(|e| e.symbol.trim().eq_ignore_ascii_case(symbol))
                        .cloned()
                        .unwrap_or_else(|| WatchEntry::symbol(symbol))
                })
                .collect();
        }
        settings.origins = origins;
        Ok(settings)
    }
}

/// A list from a variable: a TOML array (`[[50, 200]]`) or a comma-separated list.
fn list_value(text: &str) -> Result<Value, String> {
    if text.trim_start().starts_with('[') {
        let layers = Layers::builder()
            .add_source(File::from_str(&format!("v = {text}"), FileFormat::Toml))
            .build()
            .map_err(|e| format!("not a TOML array: {}", toml_error(&e)))?;
        return layers.get::<Value>("v").map_err(|e| format!("not a TOML array: {e}"));
    }
    let items: Vec<Value> = split_list(text)
        .map(|item| Value::new(None, ValueKind::String(item.to_owned())))
        .collect();
    Ok(Value::new(None, ValueKind::Array(items)))
}

/// The first and last lines of a TOML parse error: where, and what; not the quoted line.
fn toml_error(error: &ConfigError) -> String {
    let text = error.to_string();
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    match (lines.first(), lines.last()) {
        (Some(first), Some(last)) if lines.len() > 1 => format!("{first}: {}", shorten(last)),
        _ => shorten(&text),
    }
}

/// A config-rs error as a [`CoreError::Config`] naming the key (and its variable).
fn deserialize_error(error: ConfigError, origins: &BTreeMap<String, String>) -> CoreError {
    let (key, reason) = match error {
        ConfigError::Type {
            key,
            unexpected,
            expected,
            ..
        } => (
            key.unwrap_or_default(),
            format!(
                "invalid type: {}, expected {expected}",
                shorten(&unexpected.to_string())
            ),
        ),
        ConfigError::At { error, key, .. } => {
            let parent = key.unwrap_or_default();
            unknown_field(&parent, &error.to_string()).unwrap_or_else(|| (parent, shorten(&error.to_string())))
        }
        ConfigError::NotFound(key) => (key, "missing (this entry needs it)".to_owned()),
        ConfigError::Message(message) => {
            unknown_field("", &message).unwrap_or_else(|| (String::new(), shorten(&message)))
        }
        other => (String::new(), shorten(&other.to_string())),
    };
    super::named_error(&key, &reason, origins)
}

/// `unknown field `x`, expected …` under `parent`: (`parent.x`, "unknown key, expected …").
fn unknown_field(parent: &str, message: &str) -> Option<(String, String)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, expected) = rest.split_once('`')?;
    let key = if parent.is_empty() {
        field.to_owned()
    } else {
        format!("{parent}.{field}")
    };
    let expected = expected.trim_start_matches(',').trim();
    let reason = if expected.is_empty() {
        "unknown key".to_owned()
    } else {
        format!("unknown key ({})", expected.replace('`', ""))
    };
    Some((key, shorten(&reason)))
}
