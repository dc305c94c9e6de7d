//! Every sanitiser of level-controlled text: titles and labels (`sanitize`), previews
//! (`make_visible`), clipboard text (`strip_controls`), file names (`files::sanitize`) and the
//! names an audit record keeps. Their promises are checked, not just their not panicking.

#![no_main]

use cloison_config::text::{is_invisible, make_visible, sanitize, strip_controls};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let max = 1 + data.first().copied().unwrap_or(0) as usize;

    let title = sanitize(&text, max);
    assert!(title.chars().count() <= max);
    assert!(!title.chars().any(|c| c.is_control() || is_invisible(c)));

    let visible = make_visible(&text, max);
    assert!(
        !visible
            .chars()
            .any(|c| (c.is_control() && c != '\n') || is_invisible(c))
    );

    let (stripped, _) = strip_controls(&text);
    assert!(
        !stripped
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    );

    use cloison_launcher::manager::files::{MAX_DEPTH, MAX_NAME};
    let name = cloison_launcher::manager::files::sanitize(&text);
    assert!(!name.is_empty());
    assert!(name.split('/').count() <= MAX_DEPTH, "{name:?}");
    for part in name.split('/') {
        assert!(part.len() <= MAX_NAME, "{} bytes", part.len());
        assert!(part != "." && part != ".." && !part.is_empty(), "{name:?}");
    }
    assert!(!name.starts_with('/'));
    assert!(!name.chars().any(|c| c.is_control() || is_invisible(c)));

    let entry = cloison_launcher::manager::audit::Entry::default().with_name(&text);
    assert!(
        entry
            .name
            .as_ref()
            .is_some_and(|n| n.len() <= cloison_launcher::manager::audit::MAX_NAME)
    );
});
