//! The multilevel manager's clipboard: the global clipboard, the flow policy that decides
//! each paste, the confirmation round trip and the audit records.
//!
//! The compositor hands over what a copy read as a sealed memory file; the manager never
//! parses Wayland and never reads a level's files. It validates the content (text must be
//! UTF-8; a PNG is decoded and re-encoded, so no hidden payload crosses as it came), copies it
//! into a fresh sealed memory file (buffers are never reused across operations), hashes it,
//! and writes the audit record before anything becomes visible to another level.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use cloison_config::{Config, Decision, FlowKind};
use cloison_ipc::session::{PNG, TEXT_OFFER, ToCompositor};

use super::audit::{Audit, Entry, sha256};
use super::content::{Content, sealed};
pub use super::content::{Kind, Refusal, check_content};

/// Characters of text shown in the confirmation dialog.
pub const PREVIEW_CHARS: usize = 400;

/// The global clipboard.
pub struct Global {
    /// The copy's gesture id.
    pub op: u64,
    /// Source level.
    pub from: String,
    /// Kind of content.
    pub kind: Kind,
    /// The content, in a sealed memory file.
    data: Arc<OwnedFd>,
    /// Its size.
    pub size: u64,
    /// Its SHA-256.
    pub sha256: String,
    /// The beginning of text, for the dialog.
    preview: String,
    /// The text itself (text only): what crosses is derived from it per flow (control
    /// characters removed unless the flow keeps them).
    text: Option<Arc<str>>,
}

/// Something the session must do after a manager step.
pub enum Out {
    /// Send this to the compositor (with this descriptor attached).
    Compositor(ToCompositor, Option<Arc<OwnedFd>>),
    /// Show this in the bar.
    Notify(String),
}

/// The manager's clipboard state.
pub struct Clipboard {
    config: Arc<Config>,
    audit: Arc<std::sync::Mutex<Audit>>,
    latest_copy: u64,
    global: Option<Global>,
    /// The paste waiting for the user: (op, target level, content hash).
    confirming: Option<(u64, String, String)>,
}

/// Text as the dialog shows it (`cloison_config::text::make_visible`, the first
/// [`PREVIEW_CHARS`] characters).
pub fn make_visible(text: &str) -> String {
    cloison_config::text::make_visible(text, PREVIEW_CHARS)
}

impl Clipboard {
    /// A manager writing to `audit`.
    pub fn new(config: Arc<Config>, audit: Arc<std::sync::Mutex<Audit>>) -> Clipboard {
        Clipboard {
            config,
            audit,
            latest_copy: 0,
            global: None,
            confirming: None,
        }
    }

    /// What the global clipboard holds (tests, status).
    pub fn global(&self) -> Option<&Global> {
        self.global.as_ref()
    }

    fn label(&self, level: &str) -> String {
        self.config
            .level(level)
            .map(|l| l.label.clone())
            .unwrap_or_else(|| level.to_string())
    }

    /// Records `entry` before what it decides takes effect; if it cannot be, the bar says so
    /// and the caller refuses.
    fn record(&mut self, entry: Entry, out: &mut Vec<Out>) -> bool {
        let written = super::audit::record(&self.audit, entry);
        if !written {
            out.push(Out::Notify(
                "The audit log cannot be written: nothing crosses levels until it can".into(),
            ));
        }
        written
    }

    /// The compositor read a copy (`data`: its sealed memory file).
    pub fn copied(
        &mut self,
        op: u64,
        level: &str,
        mime: &str,
        size: u64,
        data: OwnedFd,
    ) -> Vec<Out> {
        let mut out = Vec::new();
        if op <= self.latest_copy {
            tracing::info!(op, level, "a copy older than the latest was discarded");
            return out;
        }
        self.latest_copy = op;
        let label = self.label(level);
        let cap = self.config.clipboard_cap_from(level);
        let refuse = |this: &mut Clipboard, out: &mut Vec<Out>, why: &str, text: String| {
            this.record(
                Entry {
                    event: "copy".into(),
                    from: Some(level.into()),
                    mime: Some(mime.into()),
                    size: Some(size),
                    decision: "refused".into(),
                    rule: why.into(),
                    ..Entry::default()
                },
                out,
            );
            out.push(Out::Notify(text));
        };
        // The content, read in place when the memory file is sealed (nobody can change it
        // any more), else copied into a sealed one of our own.
        let content = match Content::open(data, cap) {
            Ok(c) => c,
            Err(err) => {
                refuse(
                    self,
                    &mut out,
                    "unreadable",
                    format!("Not copied from {label}: {err}"),
                );
                return out;
            }
        };
        let bytes = content.bytes();
        if bytes.is_empty() {
            refuse(
                self,
                &mut out,
                "empty",
                format!("Nothing copied: {label}'s clipboard is empty"),
            );
            return out;
        }
        if bytes.len() as u64 > cap {
            refuse(
                self,
                &mut out,
                &format!("oversize: above {cap} bytes"),
                format!(
                    "Not copied: {label}'s clipboard is larger than {}",
                    cloison_config::text::human_size(cap)
                ),
            );
            return out;
        }
        let (kind, reencoded) =
            match check_content(mime, bytes, self.config.clipboard_images_from(level)) {
                Ok(checked) => checked,
                Err(Refusal::NotUtf8) => {
                    refuse(
                        self,
                        &mut out,
                        "not UTF-8 text",
                        format!("Not copied: {label}'s clipboard is not valid UTF-8 text"),
                    );
                    return out;
                }
                Err(Refusal::BadPng(err)) => {
                    refuse(
                        self,
                        &mut out,
                        &format!("invalid PNG: {err}"),
                        format!("Not copied: {label}'s image is not a valid PNG"),
                    );
                    return out;
                }
                Err(Refusal::Type) => {
                    refuse(
                        self,
                        &mut out,
                        "type not allowed",
                        format!("Not copied: {mime} is not a type the clipboard carries"),
                    );
                    return out;
                }
            };
        let (data, bytes): (Arc<OwnedFd>, &[u8]) = match &reencoded {
            Some(png) => match sealed(png) {
                Ok(fd) => (Arc::new(fd), png.as_slice()),
                Err(err) => {
                    refuse(self, &mut out, "no memory", format!("Not copied: {err}"));
                    return out;
                }
            },
            None => match content.sealed_fd() {
                Ok(fd) => (fd, bytes),
                Err(err) => {
                    refuse(self, &mut out, "no memory", format!("Not copied: {err}"));
                    return out;
                }
            },
        };
        let digest = sha256(bytes);
        let text: Option<Arc<str>> = match kind {
            Kind::Text => std::str::from_utf8(bytes).ok().map(Arc::from),
            Kind::Png => None,
        };
        let preview = match kind {
            Kind::Text => make_visible(&String::from_utf8_lossy(
                &bytes[..bytes.len().min(PREVIEW_CHARS * 4)],
            )),
            Kind::Png => String::new(),
        };
        let size = bytes.len() as u64;
        if !self.record(
            Entry {
                event: "copy".into(),
                from: Some(level.into()),
                mime: Some(kind.mime().into()),
                size: Some(size),
                sha256: Some(digest.clone()),
                decision: "stored".into(),
                rule: "copy gesture".into(),
                ..Entry::default()
            },
            &mut out,
        ) {
            return out;
        }
        self.confirming = None;
        self.global = Some(Global {
            op,
            from: level.into(),
            kind,
            data,
            size,
            sha256: digest,
            preview,
            text,
        });
        out.push(Out::Notify(format!(
            "Copied {} {} from {label}",
            cloison_config::text::human_size(size),
            kind.word()
        )));
        out
    }

    /// A copy failed in the compositor (timeout, oversize, empty): recorded.
    pub fn copy_failed(
        &mut self,
        op: u64,
        level: &str,
        reason: &str,
        mime: Option<String>,
        size: u64,
    ) -> Vec<Out> {
        let mut out = Vec::new();
        self.latest_copy = self.latest_copy.max(op);
        self.record(
            Entry {
                event: "copy".into(),
                from: Some(level.into()),
                mime,
                size: Some(size),
                decision: match reason {
                    "timeout" => "timeout",
                    "oversize" => "refused",
                    _ => "failed",
                }
                .into(),
                rule: reason.into(),
                ..Entry::default()
            },
            &mut out,
        );
        out
    }

    /// The user asked to paste into `to`.
    pub fn paste_request(&mut self, op: u64, to: &str) -> Vec<Out> {
        let mut out = Vec::new();
        let to_label = self.label(to);
        let Some(global) = self.global.as_ref() else {
            out.push(Out::Notify(
                "Nothing to paste: the global clipboard is empty (copy with Ctrl+Shift+C)".into(),
            ));
            return out;
        };
        let (from, kind, size, digest) = (
            global.from.clone(),
            global.kind,
            global.size,
            global.sha256.clone(),
        );
        let from_label = self.label(&from);
        let entry = |decision: &str, rule: String| Entry {
            event: "paste".into(),
            from: Some(from.clone()),
            to: Some(to.into()),
            mime: Some(kind.mime().into()),
            size: Some(size),
            sha256: Some(digest.clone()),
            decision: decision.into(),
            rule,
            ..Entry::default()
        };
        if from == to {
            self.record(entry("refused", "same level".into()), &mut out);
            out.push(Out::Notify(format!(
                "This came from {from_label}: paste it there with the app's own Ctrl+V"
            )));
            return out;
        }
        let Some((decision, explicit)) = self.config.decision(FlowKind::Clipboard, &from, to)
        else {
            return out;
        };
        let mut rule = format!(
            "{from} -> {to}: {decision} ({})",
            if explicit { "policy rule" } else { "default" }
        );
        let cap = self.config.clipboard_cap(&from, to);
        let mut decision = decision;
        if size > cap {
            decision = Decision::Deny;
            rule = format!("{size} bytes is above the {cap}-byte limit for {from} -> {to}");
        } else if kind == Kind::Png && !self.config.clipboard_images(&from, to) {
            decision = Decision::Deny;
            rule = format!("images are not allowed for {from} -> {to}");
        }
        match decision {
            Decision::Deny => {
                self.record(entry("deny", rule.clone()), &mut out);
                out.push(Out::Notify(format!(
                    "Paste from {from_label} into {to_label} denied: {rule}"
                )));
            }
            Decision::Allow => self.deliver(op, to, rule, &mut out),
            Decision::Confirm => {
                self.confirming = Some((op, to.to_string(), digest));
                let global = self.global.as_ref().expect("checked above");
                // The preview shows the text as copied, control characters made visible, and
                // says which of them will not cross.
                let removed = self.crossing_text(&from, to).map_or(0, |(_, n)| n);
                let preview = if removed > 0 {
                    format!(
                        "[{removed} control character(s) shown as ⟨U+…⟩ will be removed]\n{}",
                        global.preview
                    )
                } else {
                    global.preview.clone()
                };
                out.push(Out::Compositor(
                    ToCompositor::Confirm {
                        op,
                        from,
                        to: to.into(),
                        mime: kind.mime().into(),
                        size,
                        preview,
                    },
                    None,
                ));
            }
        }
        out
    }

    /// The compositor died and another one starts: its gestures' ids start again, and a
    /// paste waiting for the user's answer is cancelled (its dialog and its target's offer
    /// went with the compositor). The global clipboard stays.
    pub fn compositor_restarted(&mut self) -> Vec<Out> {
        self.latest_copy = 0;
        match self.confirming.take() {
            Some((_, to, _)) => vec![Out::Notify(format!(
                "Paste into {} cancelled: the screen was restarted",
                self.label(&to)
            ))],
            None => Vec::new(),
        }
    }

    /// The user answered the dialog of paste `op`.
    pub fn confirm_answer(&mut self, op: u64, accept: bool) -> Vec<Out> {
        let mut out = Vec::new();
        let Some((waiting, to, digest)) = self.confirming.take() else {
            return out;
        };
        if waiting != op {
            self.confirming = Some((waiting, to, digest));
            return out;
        }
        let Some(global) = self.global.as_ref().filter(|g| g.sha256 == digest) else {
            out.push(Out::Notify(
                "The global clipboard changed meanwhile: paste again".into(),
            ));
            return out;
        };
        let (from, kind, size) = (global.from.clone(), global.kind, global.size);
        let rule = format!("{from} -> {to}: confirm");
        self.record(
            Entry {
                event: "confirm".into(),
                from: Some(from.clone()),
                to: Some(to.clone()),
                mime: Some(kind.mime().into()),
                size: Some(size),
                sha256: Some(digest),
                decision: if accept { "confirmed" } else { "refused" }.into(),
                rule: rule.clone(),
                ..Entry::default()
            },
            &mut out,
        );
        if accept {
            self.deliver(op, &to, format!("{rule}ed by the user"), &mut out);
        } else {
            out.push(Out::Notify(format!(
                "Paste into {} cancelled",
                self.label(&to)
            )));
        }
        out
    }

    /// The text that crosses from `from` to `to` and how many control characters were
    /// removed from it, when control characters do not cross for that pair (the default) and
    /// the global clipboard holds text that has some.
    fn crossing_text(&self, from: &str, to: &str) -> Option<(String, usize)> {
        let keep = self
            .config
            .flow(from, to)
            .is_some_and(|f| f.clipboard_control_characters);
        let text = self.global.as_ref()?.text.as_ref()?;
        if keep {
            return None;
        }
        let (stripped, removed) = cloison_config::text::strip_controls(text);
        (removed > 0 || stripped.len() != text.len()).then_some((stripped, removed))
    }

    /// Records an allowed paste (on disk first), then hands the content to the compositor.
    fn deliver(&mut self, op: u64, to: &str, rule: String, out: &mut Vec<Out>) {
        let Some(global) = self.global.as_ref() else {
            return;
        };
        let (from, kind, mut size, mut digest, mut data) = (
            global.from.clone(),
            global.kind,
            global.size,
            global.sha256.clone(),
            global.data.clone(),
        );
        let mut rule = rule;
        let mut note = String::new();
        if let Some((text, removed)) = self.crossing_text(&from, to) {
            match sealed(text.as_bytes()) {
                Ok(fd) => {
                    data = Arc::new(fd);
                    size = text.len() as u64;
                    digest = sha256(text.as_bytes());
                    if removed > 0 {
                        rule = format!("{rule}; {removed} control characters removed");
                        note = format!(" ({removed} control characters removed)");
                    }
                }
                Err(err) => {
                    tracing::warn!("cannot prepare the paste: {err}");
                    out.push(Out::Notify(format!("Not pasted: {err}")));
                    return;
                }
            }
        }
        if !self.record(
            Entry {
                event: "paste".into(),
                from: Some(from.clone()),
                to: Some(to.into()),
                mime: Some(kind.mime().into()),
                size: Some(size),
                sha256: Some(digest),
                decision: "allow".into(),
                rule,
                ..Entry::default()
            },
            out,
        ) {
            return;
        }
        let mime_types = match kind {
            Kind::Text => TEXT_OFFER.iter().map(|t| t.to_string()).collect(),
            Kind::Png => vec![PNG.to_string()],
        };
        out.push(Out::Compositor(
            ToCompositor::Paste {
                op,
                level: to.into(),
                from: from.clone(),
                mime_types,
                size,
            },
            Some(data),
        ));
        out.push(Out::Notify(format!(
            "Pasted {} {} from {} into {}{note}: paste it with the app's Ctrl+V",
            cloison_config::text::human_size(size),
            kind.word(),
            self.label(&from),
            self.label(to)
        )));
        if self.config.clipboard.clear_after_paste {
            self.global = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Seek as _};

    fn manager(config: Config) -> (Clipboard, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let audit = Audit::open(&dir.path().join("audit.jsonl")).unwrap();
        (
            Clipboard::new(Arc::new(config), Arc::new(std::sync::Mutex::new(audit))),
            dir,
        )
    }

    /// Content as the compositor sends it: written, offset left at the end.
    fn fd(bytes: &[u8]) -> OwnedFd {
        let fd = sealed(bytes).unwrap();
        let mut f = std::fs::File::from(fd);
        f.seek(std::io::SeekFrom::End(0)).unwrap();
        OwnedFd::from(f)
    }

    fn notes(out: &[Out]) -> Vec<String> {
        out.iter()
            .filter_map(|o| match o {
                Out::Notify(t) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    /// The preview of the confirmation `out` asks for.
    fn preview(out: &[Out]) -> Option<String> {
        out.iter().find_map(|o| match o {
            Out::Compositor(ToCompositor::Confirm { preview, .. }, None) => Some(preview.clone()),
            _ => None,
        })
    }

    fn pasted(out: &[Out]) -> Option<Vec<u8>> {
        out.iter().find_map(|o| match o {
            Out::Compositor(ToCompositor::Paste { .. }, Some(data)) => {
                let mut f = std::fs::File::from(data.try_clone().unwrap());
                f.rewind().unwrap();
                let mut v = Vec::new();
                f.read_to_end(&mut v).unwrap();
                Some(v)
            }
            _ => None,
        })
    }

    #[test]
    fn upward_pastes_downward_is_denied_and_everything_is_audited() {
        let (mut m, dir) = manager(Config::builtin());
        let text = "héllo 🌍\nsecond line";
        let out = m.copied(
            1,
            "low",
            "text/plain;charset=utf-8",
            text.len() as u64,
            fd(text.as_bytes()),
        );
        assert_eq!(notes(&out), ["Copied 23 B text from LOW"]);
        // Into high: allowed, the exact bytes, the global clipboard emptied.
        let out = m.paste_request(2, "high");
        assert_eq!(pasted(&out).unwrap(), text.as_bytes());
        assert!(m.global().is_none());
        // High -> low: denied, nothing sent.
        m.copied(3, "high", "UTF8_STRING", 6, fd(b"secret"));
        let out = m.paste_request(4, "low");
        assert!(pasted(&out).is_none());
        assert!(
            notes(&out)[0].contains("denied: high -> low: deny"),
            "{:?}",
            notes(&out)
        );
        let log = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
        let events: Vec<(String, String)> = log
            .lines()
            .map(|l| {
                let r: crate::manager::audit::Record = serde_json::from_str(l).unwrap();
                (r.entry.event, r.entry.decision)
            })
            .collect();
        assert_eq!(
            events,
            [
                ("copy".into(), "stored".into()),
                ("paste".into(), "allow".into()),
                ("copy".into(), "stored".into()),
                ("paste".into(), "deny".into())
            ]
        );
        assert!(!log.contains("secret") && !log.contains("héllo"));
        assert_eq!(
            crate::manager::audit::verify(&dir.path().join("audit.jsonl")).unwrap(),
            Ok(4)
        );
    }

    #[test]
    fn confirm_waits_for_the_user_and_stale_or_bad_copies_are_refused() {
        let mut config = Config::builtin();
        config.policy.flows[0].clipboard = Decision::Confirm;
        let (mut m, _dir) = manager(config);
        m.copied(5, "low", "text/plain", 7, fd("a\u{202e}b\x07c".as_bytes()));
        let out = m.paste_request(6, "high");
        let preview = preview(&out).expect("a confirmation");
        assert_eq!(
            preview,
            "[1 control character(s) shown as ⟨U+…⟩ will be removed]\na⟨U+202E⟩b⟨U+0007⟩c"
        );
        assert!(pasted(&m.confirm_answer(99, true)).is_none(), "another op");
        let out = m.confirm_answer(6, false);
        assert!(pasted(&out).is_none());
        m.paste_request(7, "high");
        assert!(pasted(&m.confirm_answer(7, true)).is_some());
        // An older copy arriving late is discarded; invalid UTF-8 is refused.
        m.copied(10, "low", "text/plain", 3, fd(b"new"));
        m.copied(8, "low", "text/plain", 3, fd(b"old"));
        assert_eq!(m.global().unwrap().op, 10);
        let out = m.copied(11, "low", "text/plain", 2, fd(&[0xff, 0xfe]));
        assert!(notes(&out)[0].contains("not valid UTF-8"));
        assert_eq!(m.global().unwrap().op, 10, "the previous content stays");
        // Same level: refused with a hint.
        let out = m.paste_request(12, "low");
        assert!(notes(&out)[0].contains("paste it there"));
    }

    #[test]
    fn control_characters_do_not_cross_unless_the_flow_keeps_them() {
        let attack = "echo hi\u{1b}[201~\ntouch ~/PWNED\r\n";
        let (mut m, dir) = manager(Config::builtin());
        m.copied(
            1,
            "low",
            "text/plain",
            attack.len() as u64,
            fd(attack.as_bytes()),
        );
        let out = m.paste_request(2, "high");
        let crossed = String::from_utf8(pasted(&out).unwrap()).unwrap();
        assert_eq!(crossed, "echo hi[201~\ntouch ~/PWNED\n");
        assert!(
            notes(&out)[0].contains("1 control characters removed"),
            "{:?}",
            notes(&out)
        );
        // The record holds the hash of what crossed.
        let log = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
        assert!(log.contains(&sha256(crossed.as_bytes())));

        // A confirmation shows them, marked, and says they go.
        let mut config = Config::builtin();
        config.policy.flows[0].clipboard = Decision::Confirm;
        let (mut m, _dir) = manager(config.clone());
        m.copied(
            3,
            "low",
            "text/plain",
            attack.len() as u64,
            fd(attack.as_bytes()),
        );
        let out = m.paste_request(4, "high");
        let preview = preview(&out).unwrap();
        assert!(
            preview.contains("⟨U+001B⟩") && preview.contains("will be removed"),
            "{preview}"
        );

        // A flow that keeps them lets the bytes through unchanged.
        config.policy.flows[0].clipboard = Decision::Allow;
        config.policy.flows[0].clipboard_control_characters = true;
        let (mut m, _dir) = manager(config);
        m.copied(
            5,
            "low",
            "text/plain",
            attack.len() as u64,
            fd(attack.as_bytes()),
        );
        let out = m.paste_request(6, "high");
        assert_eq!(pasted(&out).unwrap(), attack.as_bytes());
    }

    #[test]
    fn oversize_is_refused_with_the_limit_and_images_need_the_flow() {
        let mut config = Config::builtin();
        config.clipboard.max_bytes = 10;
        let (mut m, _dir) = manager(config.clone());
        let out = m.copied(1, "low", "text/plain", 11, fd(&[b'x'; 11]));
        assert!(
            notes(&out)[0].contains("larger than 10 B"),
            "{:?}",
            notes(&out)
        );
        assert!(m.global().is_none());

        // A PNG with a hidden trailer: re-encoded, the trailer does not cross.
        let mut png_bytes = Vec::new();
        {
            let mut e = png::Encoder::new(&mut png_bytes, 2, 2);
            e.set_color(png::ColorType::Rgba);
            e.set_depth(png::BitDepth::Eight);
            e.write_header()
                .unwrap()
                .write_image_data(&[200; 16])
                .unwrap();
        }
        png_bytes.extend_from_slice(b"HIDDEN-PAYLOAD");
        let mut config = Config::builtin();
        config.policy.flows[0].clipboard_images = true;
        let (mut m, _dir) = manager(config);
        m.copied(
            2,
            "low",
            "image/png",
            png_bytes.len() as u64,
            fd(&png_bytes),
        );
        let out = m.paste_request(3, "high");
        let crossed = pasted(&out).expect("allowed");
        assert!(!crossed.windows(6).any(|w| w == b"HIDDEN"));
        let (mut m, _dir) = manager(Config::builtin());
        let out = m.copied(
            4,
            "low",
            "image/png",
            png_bytes.len() as u64,
            fd(&png_bytes),
        );
        assert!(notes(&out)[0].contains("not a type"), "{:?}", notes(&out));
    }
}
