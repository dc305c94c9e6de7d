//! The apps of the mobile office and administration workstations, as a user starts them: in
//! each level a terminal, a GTK3 app, a GTK4 app, a Qt 6 app, a browser and LibreOffice
//! Writer, each in its cage; each must map a window in its level's frame with something drawn
//! in it, and Writer must open a document from the level's home and save it there.

use std::time::Duration;

use cloison_ipc::{InputEvent, Status, WindowStatus};
use cloison_tests::session::{Image, Session, external, quiet_config, wait_until_for};

/// (program and arguments, the app_id its window gets).
const APPS: [(&[&str], &str); 6] = [
    (&["foot"], "foot"),
    (&["gtk3-demo"], "gtk3-demo"),
    (&["gtk4-demo"], "org.gtk.Demo4"),
    (&["/usr/lib/qt6/bin/designer"], "designer"),
    (
        &["firefox-esr", "--new-instance", "about:blank"],
        "firefox-esr",
    ),
    (
        &["lowriter", "/home/user/letter.fodt"],
        "libreoffice-writer",
    ),
];

/// A one-paragraph flat ODF text document (LibreOffice's own format, in one XML file).
const LETTER: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.text">
 <office:body><office:text><text:p>cloison-letter</text:p></office:text></office:body>
</office:document>
"#;

fn window<'a>(st: &'a Status, level: &str, app_id: &str) -> Option<&'a WindowStatus> {
    st.windows
        .iter()
        .find(|w| w.level == level && w.app_id == app_id)
}

/// Distinct colours inside a window's content (what its client drew).
fn colours(img: &Image, w: &WindowStatus) -> usize {
    let g = &w.geometry;
    let x0 = g.x.max(0);
    let y0 = g.y.max(0);
    let x1 = (g.x + g.width).min(img.width as i32);
    let y1 = (g.y + g.height).min(img.height as i32);
    img.distinct_colours(x0, y0, (x1 - x0).max(0), (y1 - y0).max(0))
}

#[test]
fn real_apps_start_in_each_level_and_writer_saves_a_document() {
    for (argv, _) in APPS {
        if !argv[0].starts_with('/') {
            let _ = external(argv[0]);
        }
    }
    assert!(
        std::path::Path::new("/usr/lib/qt6/bin/designer").exists(),
        "designer-qt6 is not installed (scripts/dev installs it)"
    );
    let mut s = Session::start_with_config(&quiet_config()).unwrap();
    let letter = |s: &Session, level: &str| s.home(level).join("letter.fodt");
    for level in ["low", "high"] {
        // The level's home exists once its cage started; the letter is the level's own file.
        wait_until_for("the level's home", Duration::from_secs(20), || {
            s.home(level).is_dir()
        });
        s.put(level, "letter.fodt", LETTER.as_bytes());
        for (argv, _) in APPS {
            s.spawn_in(level, argv);
        }
    }
    let st = s
        .wait_for_long(
            "every app's window in both levels",
            Duration::from_secs(240),
            |st| {
                ["low", "high"]
                    .iter()
                    .all(|l| APPS.iter().all(|(_, app)| window(st, l, app).is_some()))
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = st;

    // Each window, brought to the front in turn: framed in its level's colour, with content.
    for level in ["low", "high"] {
        for (argv, app) in APPS {
            s.focus_app(level, app);
            // Give it a frame to draw after being raised.
            std::thread::sleep(Duration::from_millis(300));
            let st = s.status().unwrap();
            // (The one with the keyboard, now in front: an app may have several.)
            let w = st
                .windows
                .iter()
                .find(|w| w.focused && w.level == level && w.app_id == app)
                .unwrap()
                .clone();
            let img = s.screenshot().unwrap();
            let n = colours(&img, &w);
            assert!(n >= 8, "{} in {level} drew {n} colour(s)", argv[0]);
            let frame = if level == "low" {
                cloison_tests::ui::GREEN
            } else {
                cloison_tests::ui::RED
            };
            let border = (w.geometry.x - 2, w.geometry.y + w.geometry.height / 2);
            assert_eq!(
                img.rgb(border.0, border.1),
                frame,
                "{} in {level}: its left border is the level's",
                argv[0]
            );
        }
    }

    // Writer: the letter from the level's home is open; type into it and save it there.
    for level in ["low", "high"] {
        let st = s.status().unwrap();
        let writer = window(&st, level, "libreoffice-writer").unwrap();
        assert!(writer.title.contains("letter"), "{}", writer.title);
        // A first start shows the tip of the day over the document: close it.
        if st
            .windows
            .iter()
            .any(|w| w.level == level && w.title.starts_with("Tip of the Day"))
        {
            s.focus_app(level, "soffice");
            s.key("Escape");
            s.wait_for("the tip to close", |st| {
                !st.windows
                    .iter()
                    .any(|w| w.level == level && w.title.starts_with("Tip of the Day"))
            })
            .unwrap();
        }
        s.focus_app(level, "libreoffice-writer");
        std::thread::sleep(Duration::from_millis(500));
        s.key("ctrl+Home");
        s.input(InputEvent::Type {
            text: format!("typed-in-{level} "),
        })
        .unwrap();
        s.key("ctrl+s");
        let path = letter(&s, level);
        let mut text = String::new();
        wait_until_for(
            &format!("{level}'s letter saved"),
            Duration::from_secs(60),
            || {
                // (Writer capitalises the start of a sentence as it is typed.)
                text = std::fs::read_to_string(&path)
                    .unwrap_or_default()
                    .to_lowercase();
                text.contains(&format!("typed-in-{level}"))
            },
        );
        assert!(text.contains("cloison-letter"), "{text}");
    }
}
