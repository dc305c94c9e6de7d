//! Untrusted text on its way to trusted UI.
//!
//! Window titles and app_ids (and later file names shown in trusted dialogs) come from
//! clients. Before the compositor draws them next to a level badge they go through
//! [`sanitize`]: no control characters, no bidirectional overrides or isolates (which could
//! make `gpj.exe` look like `exe.jpg`), no zero-width or otherwise invisible characters, no
//! towers of combining marks, whitespace collapsed to single spaces, and a length cap with an
//! ellipsis. What remains is plain visible text that cannot reorder or hide itself.

/// Longest title shown, in characters (an ellipsis replaces the rest).
pub const MAX_TITLE_CHARS: usize = 128;

/// Combining marks kept after one base character; more are dropped.
const MAX_COMBINING: usize = 2;

/// Characters that are invisible, zero-width, or change text direction or shaping: format
/// characters (Unicode category Cf), fillers and selectors. They are removed.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{0600}'..='\u{0605}' | '\u{061C}' | '\u{06DD}' | '\u{070F}'
        | '\u{0890}'..='\u{0891}' | '\u{08E2}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{2800}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{110BD}' | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E007F}' | '\u{E0100}'..='\u{E01EF}')
}

/// Whitespace of any kind (collapsed to one ASCII space).
fn is_space(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00A0}' | '\u{1680}' | '\u{2000}'
                ..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
        )
}

/// Combining marks (the common blocks).
fn is_combining(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}' | '\u{0483}'..='\u{0489}' | '\u{0591}'..='\u{05BD}'
        | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}')
}

/// Makes client-supplied text safe to show in trusted UI; at most `max_chars` characters
/// (the last one an ellipsis when something was cut).
pub fn sanitize(input: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(input.len().min(max_chars * 4));
    let mut pending_space = false;
    let mut combining = 0;
    let mut count = 0;
    let mut truncated = false;
    for c in input.chars() {
        if is_space(c) || c.is_control() {
            // Line breaks, tabs and other controls become (collapsed) spaces.
            pending_space = count > 0;
            continue;
        }
        if is_invisible(c) {
            continue;
        }
        if is_combining(c) {
            if count == 0 || combining >= MAX_COMBINING {
                continue;
            }
            combining += 1;
        } else {
            combining = 0;
        }
        let needed = usize::from(pending_space) + 1;
        if count + needed > max_chars {
            truncated = true;
            break;
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
    }
    if truncated && max_chars > 0 {
        // Make room for the ellipsis, and do not end on a space.
        while out.chars().count() >= max_chars {
            out.pop();
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push('…');
    }
    out
}

/// Untrusted text as a trusted dialog previews it: at most `max_chars` characters; invisible,
/// control and bidi characters become visible `⟨U+XXXX⟩` marks (the same set [`sanitize`]
/// removes), tabs `→`; line breaks stay.
pub fn make_visible(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for c in text.chars().take(max_chars) {
        match c {
            '\n' => out.push('\n'),
            '\t' => out.push('→'),
            c if c.is_control() || is_invisible(c) => {
                out.push_str(&format!("⟨U+{:04X}⟩", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Text as it crosses to another level by default: every C0 control but tab and newline, DEL,
/// and every C1 control removed; a carriage return (alone or before a newline) becomes a
/// newline. An escape sequence copied in one level (ESC, the bracketed-paste end `ESC [201~`,
/// a C1 CSI) cannot drive a terminal in another. Returns the text and how many characters were
/// removed (a `\r\n` turned into `\n` counts as none).
pub fn strip_controls(text: &str) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut removed = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\t' | '\n' => out.push(c),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            c if c.is_control() => removed += 1,
            c => out.push(c),
        }
    }
    (out, removed)
}

/// A byte count as people read it (decimal units): `999 B`, `1.2 kB`, `3.4 MB`, `1.07 GB`.
pub fn human_size(bytes: u64) -> String {
    if bytes < 1000 {
        format!("{bytes} B")
    } else if bytes < 1_000_000 {
        format!("{:.1} kB", bytes as f64 / 1000.0)
    } else if bytes < 1_000_000_000 {
        format!("{:.1} MB", bytes as f64 / 1_000_000.0)
    } else {
        format!("{:.2} GB", bytes as f64 / 1_000_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_unchanged() {
        assert_eq!(sanitize("Terminal — ~/src", 128), "Terminal — ~/src");
        assert_eq!(sanitize("日本語のタイトル", 128), "日本語のタイトル");
    }

    #[test]
    fn controls_and_newlines_become_single_spaces() {
        assert_eq!(sanitize("a\nb\r\n\tc\u{7}d", 128), "a b c d");
        assert_eq!(sanitize("  lots   of\u{3000}space  ", 128), "lots of space");
        assert_eq!(sanitize("\u{1b}[31mred", 128), "[31mred");
    }

    #[test]
    fn bidi_overrides_and_isolates_are_removed() {
        // "invoice\u{202E}fdp.exe" would display as "invoiceexe.pdf".
        assert_eq!(sanitize("invoice\u{202E}fdp.exe", 128), "invoicefdp.exe");
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{2066}', '\u{2067}', '\u{2068}',
            '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
        ] {
            assert_eq!(sanitize(&format!("a{c}b"), 128), "ab", "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn invisible_characters_are_removed() {
        for c in [
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{3164}',
            '\u{FE0F}',
            '\u{E0041}',
        ] {
            assert_eq!(sanitize(&format!("x{c}y"), 128), "xy", "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn combining_towers_are_cut() {
        let zalgo = format!("Z{}", "\u{0301}".repeat(50));
        assert_eq!(sanitize(&zalgo, 128), "Z\u{0301}\u{0301}");
        assert_eq!(sanitize("\u{0301}x", 128), "x", "no leading mark");
    }

    #[test]
    fn long_titles_are_capped_with_an_ellipsis() {
        let long = "x".repeat(500);
        let s = sanitize(&long, 128);
        assert_eq!(s.chars().count(), 128);
        assert!(s.ends_with('…'));
        assert_eq!(sanitize("abc def", 5), "abc…");
        assert_eq!(sanitize("abcdef", 6), "abcdef");
    }

    #[test]
    fn a_spoofed_level_tag_stays_plain_text() {
        assert_eq!(sanitize("[HIGH]\u{2028}Secrets", 128), "[HIGH] Secrets");
        assert_eq!(sanitize("", 128), "");
        assert_eq!(sanitize("\u{202E}\u{200B}\n", 128), "");
    }

    #[test]
    fn sizes_read_in_decimal_units() {
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1234), "1.2 kB");
        assert_eq!(human_size(268_435_456), "268.4 MB");
        assert_eq!(human_size(34_359_738_368), "34.36 GB");
    }

    #[test]
    fn clipboard_text_loses_its_controls_but_tabs_and_newlines() {
        let (text, removed) =
            strip_controls("echo hi\u{1b}[201~\ntouch ~/PWNED\r\n\tx\u{9b}31m\u{7f}\r");
        assert_eq!(text, "echo hi[201~\ntouch ~/PWNED\n\tx31m\n");
        assert_eq!(removed, 3, "ESC, CSI (U+009B), DEL");
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
        );
        assert_eq!(strip_controls("plain ✓"), ("plain ✓".into(), 0));
    }

    #[test]
    fn previews_make_controls_bidi_and_invisible_characters_visible() {
        assert_eq!(
            make_visible("a\u{202e}b\u{7}c\td\u{2066}\u{1b}", 100),
            "a⟨U+202E⟩b⟨U+0007⟩c→d⟨U+2066⟩⟨U+001B⟩"
        );
        assert_eq!(
            make_visible("line one\nline two", 100),
            "line one\nline two"
        );
        assert_eq!(make_visible(&"x".repeat(50), 10), "x".repeat(10));
    }
}
