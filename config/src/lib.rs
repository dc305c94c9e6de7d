//! Cloison's configuration.
//!
//! A configuration is TOML, found (in this order) at the path given with `--config FILE`, at
//! `$XDG_CONFIG_HOME/cloison/cloison.toml`, or else the built-in default
//! (`assets/cloison.toml`, compiled in). It declares the security levels — at least two —
//! and the flow policy between them.
//!
//! Parsing happens in two steps: serde reads the file into "raw" structs that keep the source
//! span of every value that can be wrong, then [`validate`] checks what serde cannot (unique
//! names, distinguishable colours, known levels in the policy…) and builds the [`Config`] the
//! rest of Cloison uses. Every error names the file, the line and column, and a fix: an
//! administrator deploying a workstation must never have to guess what a message means.
//!
//! The validated [`Config`] is serde-serialisable so the launcher can hand exactly what it
//! validated to the compositor (as JSON on the compositor's standard input).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

mod color;
pub mod text;
pub use color::Color;
use text::is_invisible;

/// The built-in default configuration, also shipped as `assets/cloison.toml`.
pub const DEFAULT_CONFIG: &str = include_str!("../../assets/cloison.toml");

/// Display name used in messages about the built-in default.
pub const BUILTIN_NAME: &str = "<built-in default>";

/// Most levels a configuration may declare: each needs a distinguishable colour and room in
/// the trusted bar.
pub const MAX_LEVELS: usize = 8;

/// Longest level label, in characters: labels are drawn in window badges and the bar.
pub const MAX_LABEL_CHARS: usize = 16;

/// Two level colours closer than this (CIE76 ΔE in L*a*b*) are rejected: a user must tell levels
/// apart at a glance. 25 keeps e.g. a green and a teal apart but refuses two greens.
pub const MIN_COLOR_DISTANCE: f64 = 25.0;

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where this configuration came from, for messages.
    pub source: String,
    /// Keyboard layout given to every level's seat.
    pub keyboard: Keyboard,
    /// The levels, in declaration order. At least two, names and colours unique.
    pub levels: Vec<Level>,
    /// The cross-level flow policy.
    pub policy: Policy,
}

/// The xkb keymap (RMLVO names) and key repeat for all seats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Keyboard {
    /// xkb rules, empty for the system default.
    pub rules: String,
    /// xkb model, empty for the system default.
    pub model: String,
    /// xkb layout, e.g. `"us"` or `"fr"`.
    pub layout: String,
    /// xkb variant, e.g. `"oss"`.
    pub variant: String,
    /// xkb options, e.g. `"ctrl:nocaps"`.
    pub options: String,
    /// Delay before a held key repeats, in milliseconds.
    pub repeat_delay: u32,
    /// Repeats per second once repeating.
    pub repeat_rate: u32,
}

impl Default for Keyboard {
    fn default() -> Self {
        Self {
            rules: String::new(),
            model: String::new(),
            layout: "us".into(),
            variant: String::new(),
            options: String::new(),
            repeat_delay: 600,
            repeat_rate: 25,
        }
    }
}

/// One security level: a confined user environment with its own Wayland socket and seat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// Identifier used in paths, sockets and commands: `[a-z][a-z0-9_-]*`, at most 32 bytes.
    pub name: String,
    /// What trusted UI shows for this level (badge, bar). Printable, at most 16 characters.
    pub label: String,
    /// The level's colour: frames, badge, bar.
    pub color: Color,
    /// Position in the flow order: data may flow by default from a lower rank to a higher one.
    pub rank: u32,
    /// The level's network access (applied by its cage).
    pub network: Network,
    /// Apps started in the level when the session starts.
    pub session: Vec<SessionApp>,
    /// What the level's clients may ask of the compositor.
    pub protocols: Protocols,
}

/// A level's network, applied by its cage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Network {
    /// A fresh network namespace with only `lo` up.
    None,
    /// The host's network.
    Host,
    /// Join the named namespace `/run/netns/NAME` (e.g. one bound to an IPsec tunnel).
    Netns(String),
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Network::None => f.write_str("none"),
            Network::Host => f.write_str("host"),
            Network::Netns(name) => write!(f, "netns:{name}"),
        }
    }
}

/// An app started with its level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionApp {
    /// argv, never passed through a shell. Non-empty.
    pub command: Vec<String>,
    /// What to do when it exits.
    pub restart: Restart,
}

/// Restart behaviour of a session app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    /// Never restart; the bar says it exited.
    #[default]
    Never,
    /// Restart when it exits with a failure status or a signal.
    OnFailure,
    /// Restart whenever it exits.
    Always,
}

/// Per-level protocol policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protocols {
    /// Whether clients may make their windows fullscreen themselves.
    pub fullscreen: bool,
}

impl Default for Protocols {
    fn default() -> Self {
        Self { fullscreen: true }
    }
}

/// What the flow policy says about one kind of data between one ordered pair of levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// The flow happens without asking.
    Allow,
    /// The user confirms each flow in a trusted dialog.
    Confirm,
    /// The flow is refused.
    Deny,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::Allow => "allow",
            Decision::Confirm => "confirm",
            Decision::Deny => "deny",
        })
    }
}

/// The kinds of data the flow policy governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    /// The cross-level clipboard.
    Clipboard,
    /// Cross-level file transfer.
    Files,
}

/// The cross-level flow policy.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Explicit rules per ordered pair. Pairs not listed get [`Policy::default_decision`].
    pub flows: Vec<Flow>,
}

/// The rule for one ordered pair of levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// Source level name.
    pub from: String,
    /// Target level name.
    pub to: String,
    /// Clipboard decision.
    pub clipboard: Decision,
    /// File transfer decision.
    pub files: Decision,
}

impl Policy {
    /// The default for a pair with no rule: upward allowed (clipboard) or confirmed (files),
    /// everything else denied.
    pub fn default_decision(kind: FlowKind, from: &Level, to: &Level) -> Decision {
        if from.rank < to.rank {
            match kind {
                FlowKind::Clipboard => Decision::Allow,
                FlowKind::Files => Decision::Confirm,
            }
        } else {
            Decision::Deny
        }
    }
}

impl Config {
    /// The built-in default configuration.
    pub fn builtin() -> Config {
        match parse(DEFAULT_CONFIG, BUILTIN_NAME) {
            Ok(config) => config,
            // The default is checked by a unit test; this cannot happen in a tested build.
            Err(e) => panic!("the built-in configuration is invalid: {e}"),
        }
    }

    /// The level called `name`.
    pub fn level(&self, name: &str) -> Option<&Level> {
        self.levels.iter().find(|l| l.name == name)
    }

    /// The decision for `kind` of data flowing from level `from` to level `to`, and whether it
    /// came from an explicit rule. Flows within one level are not cross-level flows: `None`.
    pub fn decision(&self, kind: FlowKind, from: &str, to: &str) -> Option<(Decision, bool)> {
        if from == to {
            return None;
        }
        let (src, dst) = (self.level(from)?, self.level(to)?);
        if let Some(rule) = self
            .policy
            .flows
            .iter()
            .find(|f| f.from == from && f.to == to)
        {
            let decision = match kind {
                FlowKind::Clipboard => rule.clipboard,
                FlowKind::Files => rule.files,
            };
            return Some((decision, true));
        }
        Some((Policy::default_decision(kind, src, dst), false))
    }

    /// A short human-readable summary, as printed by `cloison check-config`.
    pub fn summary(&self) -> String {
        let mut out = format!("configuration {} is valid\n", self.source);
        out.push_str(&format!(
            "keyboard: layout {:?}{}\n",
            self.keyboard.layout,
            if self.keyboard.variant.is_empty() {
                String::new()
            } else {
                format!(" variant {:?}", self.keyboard.variant)
            }
        ));
        out.push_str(&format!("{} levels:\n", self.levels.len()));
        for level in &self.levels {
            out.push_str(&format!(
                "  {:<10} label {:<8} colour {}  rank {}  network {}  {} session app(s)\n",
                level.name,
                level.label,
                level.color,
                level.rank,
                level.network,
                level.session.len()
            ));
        }
        out.push_str("flow policy (clipboard / files):\n");
        for from in &self.levels {
            for to in &self.levels {
                if from.name == to.name {
                    continue;
                }
                let show = |kind| match self.decision(kind, &from.name, &to.name) {
                    Some((d, true)) => d.to_string(),
                    Some((d, false)) => format!("{d} (default)"),
                    None => "-".to_string(),
                };
                out.push_str(&format!(
                    "  {} -> {}: {} / {}\n",
                    from.name,
                    to.name,
                    show(FlowKind::Clipboard),
                    show(FlowKind::Files)
                ));
            }
        }
        out
    }
}

/// Where a configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// A file the user named, or the one found under `$XDG_CONFIG_HOME`.
    File(PathBuf),
    /// The built-in default.
    Builtin,
}

/// Finds the configuration to use: `explicit` if given, else
/// `$XDG_CONFIG_HOME/cloison/cloison.toml` if it exists, else the built-in default.
pub fn locate(explicit: Option<&Path>) -> ConfigSource {
    if let Some(path) = explicit {
        return ConfigSource::File(path.to_path_buf());
    }
    let dirs = xdg::BaseDirectories::with_prefix("cloison");
    match dirs.ok().and_then(|d| d.find_config_file("cloison.toml")) {
        Some(path) => ConfigSource::File(path),
        None => ConfigSource::Builtin,
    }
}

/// Loads and validates the configuration from `source`.
pub fn load(source: &ConfigSource) -> Result<Config, ConfigError> {
    match source {
        ConfigSource::Builtin => parse(DEFAULT_CONFIG, BUILTIN_NAME),
        ConfigSource::File(path) => {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                file: name.clone(),
                line: 0,
                column: 0,
                message: format!("cannot read the configuration: {e}"),
                fix: "check the path and its permissions, or omit --config to use the default"
                    .into(),
            })?;
            parse(&text, &name)
        }
    }
}

/// A configuration error: where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}\n  fix: {fix}")]
pub struct ConfigError {
    /// The file's path, or [`BUILTIN_NAME`].
    pub file: String,
    /// 1-based line, 0 when the error is not about a place in the file.
    pub line: usize,
    /// 1-based column, 0 when the error is not about a place in the file.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

/// Parses and validates configuration text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
    let at = |span: Option<Range<usize>>, message: String, fix: String| {
        let (line, column) = span.map_or((0, 0), |s| line_col(text, s.start));
        ConfigError {
            file: file.to_string(),
            line,
            column,
            message,
            fix,
        }
    };
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let message = e.message().trim().to_string();
        let fix = fix_for_parse_error(&message);
        at(e.span(), message, fix)
    })?;
    validate(raw, file, text).map_err(|(span, message, fix)| at(span, message, fix))
}

/// Byte offset to 1-based (line, column in characters).
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn fix_for_parse_error(message: &str) -> String {
    if message.starts_with("unknown field") {
        "remove this key or correct its spelling; docs/configuration.md lists every option".into()
    } else if message.starts_with("missing field") {
        "add the missing key; docs/configuration.md shows an example".into()
    } else if message.starts_with("unknown variant") {
        "use one of the values the message lists".into()
    } else if message.starts_with("duplicate key") {
        "remove one of the two definitions".into()
    } else if message.starts_with("invalid type") {
        "give a value of the type the message names (strings need quotes)".into()
    } else {
        "fix the TOML syntax at this place".into()
    }
}

// ---------------------------------------------------------------------------------------------
// Raw (as written) form. Every value that validation can reject keeps its span.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    keyboard: Keyboard,
    #[serde(default, rename = "level")]
    levels: Vec<Spanned<RawLevel>>,
    #[serde(default)]
    policy: RawPolicy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevel {
    name: Spanned<String>,
    label: Spanned<String>,
    color: Spanned<String>,
    rank: u32,
    #[serde(default)]
    network: Option<Spanned<String>>,
    #[serde(default)]
    session: Vec<Spanned<RawApp>>,
    #[serde(default)]
    protocols: Protocols,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    command: Vec<String>,
    #[serde(default)]
    restart: Restart,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default, rename = "flow")]
    flows: Vec<Spanned<RawFlow>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    from: Spanned<String>,
    to: Spanned<String>,
    clipboard: Decision,
    files: Decision,
}

type Invalid = (Option<Range<usize>>, String, String);

fn invalid(span: Range<usize>, message: impl Into<String>, fix: impl Into<String>) -> Invalid {
    (Some(span), message.into(), fix.into())
}

/// Checks a level name: it becomes a path component, a seat name and a command argument.
pub fn check_level_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if name.len() > 32 || !first_ok || !rest_ok {
        return Err(format!(
            "invalid level name {name:?}: it must start with a lowercase letter, use only a-z, 0-9, '-' and '_', and have at most 32 characters"
        ));
    }
    Ok(())
}

fn validate(raw: RawConfig, file: &str, text: &str) -> Result<Config, Invalid> {
    let line_of = |span: &Range<usize>| line_col(text, span.start).0;
    let mut levels: Vec<Level> = Vec::new();
    // (name span, colour span) of each level, for "first declared at" messages.
    let mut spans: Vec<(Range<usize>, Range<usize>)> = Vec::new();

    if raw.levels.len() > MAX_LEVELS {
        return Err(invalid(
            raw.levels[MAX_LEVELS].span(),
            format!(
                "{} levels are declared; at most {MAX_LEVELS} are supported",
                raw.levels.len()
            ),
            "merge or remove levels",
        ));
    }

    for spanned in &raw.levels {
        let level = spanned.get_ref();
        let name = level.name.get_ref();
        check_level_name(name).map_err(|m| {
            invalid(
                level.name.span(),
                m,
                "rename the level, e.g. name = \"high\"",
            )
        })?;
        if let Some(first) = levels.iter().position(|l| &l.name == name) {
            return Err(invalid(
                level.name.span(),
                format!(
                    "duplicate level name {name:?} (first declared at line {})",
                    line_of(&spans[first].0)
                ),
                "give each [[level]] a unique name",
            ));
        }

        let label = level.label.get_ref();
        if label.trim().is_empty()
            || label.chars().count() > MAX_LABEL_CHARS
            || label.chars().any(|c| c.is_control() || is_invisible(c))
        {
            return Err(invalid(
                level.label.span(),
                format!(
                    "invalid label {label:?}: it must be 1 to {MAX_LABEL_CHARS} visible characters"
                ),
                "use a short label such as \"HIGH\"",
            ));
        }
        if let Some(other) = levels
            .iter()
            .find(|l| l.label.eq_ignore_ascii_case(label.trim()))
        {
            return Err(invalid(
                level.label.span(),
                format!("label {label:?} is already used by level {:?}", other.name),
                "give each level a distinct label: users tell levels apart by it",
            ));
        }

        let color: Color = level.color.get_ref().parse().map_err(|m: String| {
            invalid(
                level.color.span(),
                m,
                "write the colour as \"#rrggbb\", e.g. \"#c62828\"",
            )
        })?;
        for (i, other) in levels.iter().enumerate() {
            let distance = color.distance(other.color);
            if distance < MIN_COLOR_DISTANCE {
                let what = if distance == 0.0 {
                    "the same as"
                } else {
                    "too similar to"
                };
                return Err(invalid(
                    level.color.span(),
                    format!(
                        "colour {color} of level {name:?} is {what} colour {} of level {:?} (line {}; ΔE {distance:.1}, at least {MIN_COLOR_DISTANCE} is needed)",
                        other.color,
                        other.name,
                        line_of(&spans[i].1),
                    ),
                    "pick clearly different colours: users tell levels apart by them (e.g. green #2e9e44, red #c62828, blue #1565c0, orange #ef6c00)",
                ));
            }
        }

        let network = match &level.network {
            None => Network::None,
            Some(net) => parse_network(net.get_ref()).map_err(|m| {
                invalid(
                    net.span(),
                    m,
                    "use network = \"none\", \"host\" or \"netns:NAME\"",
                )
            })?,
        };

        let mut session = Vec::new();
        for app in &level.session {
            let a = app.get_ref();
            if a.command.is_empty() || a.command[0].is_empty() {
                return Err(invalid(
                    app.span(),
                    "a session app has an empty command",
                    "give the program and its arguments, e.g. command = [\"foot\"]",
                ));
            }
            if a.command.iter().any(|arg| arg.contains('\0')) {
                return Err(invalid(
                    app.span(),
                    "a session app's command contains a NUL character",
                    "remove the NUL character",
                ));
            }
            session.push(SessionApp {
                command: a.command.clone(),
                restart: a.restart,
            });
        }

        spans.push((level.name.span(), level.color.span()));
        levels.push(Level {
            name: name.clone(),
            label: label.trim().to_string(),
            color,
            rank: level.rank,
            network,
            session,
            protocols: level.protocols.clone(),
        });
    }

    if levels.len() < 2 {
        let span = raw.levels.first().map(|l| l.span());
        return Err((
            span,
            format!(
                "{} level(s) declared; a Cloison session needs at least two",
                levels.len()
            ),
            "declare at least two [[level]] tables (the built-in default has \"low\" and \"high\"; see docs/configuration.md)".into(),
        ));
    }

    let mut flows: Vec<Flow> = Vec::new();
    for spanned in &raw.policy.flows {
        let f = spanned.get_ref();
        for end in [&f.from, &f.to] {
            if !levels.iter().any(|l| &l.name == end.get_ref()) {
                let known: Vec<&str> = levels.iter().map(|l| l.name.as_str()).collect();
                return Err(invalid(
                    end.span(),
                    format!(
                        "the flow rule names level {:?}, which is not declared",
                        end.get_ref()
                    ),
                    format!("use one of the declared levels: {}", known.join(", ")),
                ));
            }
        }
        if f.from.get_ref() == f.to.get_ref() {
            return Err(invalid(
                spanned.span(),
                format!(
                    "a flow rule goes from level {:?} to itself",
                    f.from.get_ref()
                ),
                "flow rules are for pairs of different levels; remove this rule",
            ));
        }
        if flows
            .iter()
            .any(|g| &g.from == f.from.get_ref() && &g.to == f.to.get_ref())
        {
            return Err(invalid(
                spanned.span(),
                format!(
                    "a second flow rule for {} -> {}",
                    f.from.get_ref(),
                    f.to.get_ref()
                ),
                "keep one [[policy.flow]] per ordered pair of levels",
            ));
        }
        flows.push(Flow {
            from: f.from.get_ref().clone(),
            to: f.to.get_ref().clone(),
            clipboard: f.clipboard,
            files: f.files,
        });
    }

    Ok(Config {
        source: file.to_string(),
        keyboard: raw.keyboard,
        levels,
        policy: Policy { flows },
    })
}

fn parse_network(value: &str) -> Result<Network, String> {
    match value {
        "none" => Ok(Network::None),
        "host" => Ok(Network::Host),
        other => match other.strip_prefix("netns:") {
            Some(name)
                if !name.is_empty()
                    && name != "."
                    && name != ".."
                    && name.len() <= 64
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) =>
            {
                Ok(Network::Netns(name.to_string()))
            }
            Some(name) => Err(format!(
                "invalid network namespace name {name:?}: use letters, digits, '-', '_' and '.'"
            )),
            None => Err(format!("unknown network mode {other:?}")),
        },
    }
}

#[cfg(test)]
mod tests;
