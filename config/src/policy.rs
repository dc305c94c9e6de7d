//! The flow policy: what may cross between two levels, and how (`allow`, `confirm`, `deny`).

use super::*;

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
    /// The clipboard's size cap for this pair (default: `[clipboard] max_bytes`).
    #[serde(default)]
    pub clipboard_max_bytes: Option<u64>,
    /// Whether PNG images may cross the clipboard for this pair (re-encoded on the way).
    #[serde(default)]
    pub clipboard_images: bool,
    /// Largest file for this pair (default: `[files] max_file_bytes`).
    #[serde(default)]
    pub files_max_file_bytes: Option<u64>,
    /// Largest request for this pair (default: `[files] max_total_bytes`).
    #[serde(default)]
    pub files_max_total_bytes: Option<u64>,
    /// Most files per request for this pair (default: `[files] max_count`).
    #[serde(default)]
    pub files_max_count: Option<usize>,
    /// Only these extensions may cross for this pair (e.g. `["pdf", "txt"]`); default: any.
    #[serde(default)]
    pub files_extensions: Vec<String>,
    /// Whether clipboard text keeps its control characters for this pair (default: every C0
    /// and C1 control but tab and newline is removed, carriage returns become newlines).
    #[serde(default)]
    pub clipboard_control_characters: bool,
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
