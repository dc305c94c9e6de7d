use super::*;

fn err(text: &str) -> ConfigError {
    match parse(text, "test.toml") {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e,
    }
}

const TWO: &str = r##"
[[level]]
name = "low"
label = "LOW"
color = "#2e9e44"
rank = 0

[[level]]
name = "high"
label = "HIGH"
color = "#c62828"
rank = 1
"##;

#[test]
fn builtin_default_parses_with_low_and_high() {
    let c = Config::builtin();
    let names: Vec<_> = c.levels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["low", "high"]);
    assert_eq!(
        c.level("low").unwrap().network,
        Network::Nat(Nat::default())
    );
    assert_eq!(c.level("high").unwrap().network, Network::None);
    assert_eq!(c.level("low").unwrap().session[0].command, ["foot"]);
    assert_eq!(c.source, BUILTIN_NAME);
}

#[test]
fn minimal_two_levels_and_default_policy() {
    let c = parse(TWO, "t").unwrap();
    assert_eq!(
        c.decision(FlowKind::Clipboard, "low", "high"),
        Some((Decision::Allow, false))
    );
    assert_eq!(
        c.decision(FlowKind::Files, "low", "high"),
        Some((Decision::Confirm, false))
    );
    assert_eq!(
        c.decision(FlowKind::Clipboard, "high", "low"),
        Some((Decision::Deny, false))
    );
    assert_eq!(c.decision(FlowKind::Clipboard, "low", "low"), None);
    assert_eq!(
        c.level("low").unwrap().network,
        Network::None,
        "network defaults to none"
    );
    assert!(c.level("low").unwrap().protocols.fullscreen);
}

#[test]
fn explicit_flow_rule_wins() {
    let text = format!(
        "{TWO}\n[[policy.flow]]\nfrom = \"high\"\nto = \"low\"\nclipboard = \"confirm\"\nfiles = \"deny\"\n"
    );
    let c = parse(&text, "t").unwrap();
    assert_eq!(
        c.decision(FlowKind::Clipboard, "high", "low"),
        Some((Decision::Confirm, true))
    );
    assert!(c.summary().contains("high -> low: confirm / deny"));
}

#[test]
fn unknown_key_names_file_line_and_fix() {
    let text = TWO.replace("rank = 1", "rank = 1\ncolour = \"#000000\"");
    let e = err(&text);
    assert_eq!(e.file, "test.toml");
    assert_eq!(e.line, 13, "{e}");
    assert!(e.message.contains("unknown field `colour`"), "{e}");
    assert!(e.fix.contains("spelling"), "{e}");
    assert!(e.to_string().starts_with("test.toml:13:"), "{e}");
}

#[test]
fn unknown_top_level_section_is_rejected() {
    let e = err(&format!("{TWO}\n[dispaly]\nx = 1\n"));
    assert!(e.message.contains("unknown field `dispaly`"), "{e}");
    assert_eq!(e.line, 14, "{e}");
}

#[test]
fn duplicate_name_points_at_second_and_first() {
    let e = err(&TWO.replace("name = \"high\"", "name = \"low\""));
    assert_eq!(e.line, 9, "{e}");
    assert!(
        e.message
            .contains("duplicate level name \"low\" (first declared at line 3)"),
        "{e}"
    );
    assert!(e.fix.contains("unique"), "{e}");
}

#[test]
fn duplicate_colour_is_rejected() {
    let e = err(&TWO.replace("#c62828", "#2E9E44"));
    assert_eq!(e.line, 11, "{e}");
    assert!(
        e.message
            .contains("is the same as colour #2e9e44 of level \"low\" (line 5"),
        "{e}"
    );
}

#[test]
fn too_similar_colour_is_rejected() {
    // Two greens.
    let e = err(&TWO.replace("#c62828", "#34a84a"));
    assert!(e.message.contains("too similar"), "{e}");
    assert!(e.fix.contains("clearly different"), "{e}");
    // Green and blue are fine.
    parse(&TWO.replace("#c62828", "#1565c0"), "t").unwrap();
}

#[test]
fn fewer_than_two_levels_is_rejected() {
    let one = &TWO[..TWO.find("\n[[level]]\nname = \"high\"").unwrap()];
    let e = err(one);
    assert!(
        e.message
            .contains("1 level(s) declared; a Cloison session needs at least two"),
        "{e}"
    );
    assert_eq!(e.line, 2, "{e}");
    let e = err("[keyboard]\nlayout = \"fr\"\n");
    assert!(e.message.contains("0 level(s)"), "{e}");
}

#[test]
fn bad_values_are_rejected_with_a_fix() {
    let cases = [
        (
            TWO.replace("\"#c62828\"", "\"red\""),
            "invalid colour \"red\"",
            11,
        ),
        (
            TWO.replace("name = \"high\"", "name = \"High Level\""),
            "invalid level name",
            9,
        ),
        (
            TWO.replace("name = \"high\"", "name = \"../x\""),
            "invalid level name",
            9,
        ),
        (
            TWO.replace("label = \"HIGH\"", "label = \"\""),
            "invalid label",
            10,
        ),
        (
            TWO.replace("label = \"HIGH\"", "label = \"HI\u{202e}GH\""),
            "invalid label",
            10,
        ),
        (
            TWO.replace("label = \"HIGH\"", "label = \"low\""),
            "already used",
            10,
        ),
        (
            TWO.replace("rank = 1", "rank = 1\nnetwork = \"wifi\""),
            "unknown network mode",
            13,
        ),
        (
            TWO.replace("rank = 1", "rank = 1\nnetwork = \"netns:../x\""),
            "invalid network namespace",
            13,
        ),
        (TWO.replace("rank = 1", "rank = \"1\""), "invalid type", 12),
        (
            format!("{TWO}\n[[level.session]]\ncommand = []\n"),
            "empty command",
            14,
        ),
        (TWO.replace("rank = 0\n", ""), "missing field `rank`", 2),
    ];
    for (text, needle, line) in cases {
        let e = err(&text);
        assert!(e.message.contains(needle), "expected {needle:?} in {e}");
        assert_eq!(e.line, line, "{e}");
        assert!(!e.fix.is_empty());
    }
}

#[test]
fn flow_rules_are_checked() {
    let rule = |from: &str, to: &str| {
        format!(
            "\n[[policy.flow]]\nfrom = \"{from}\"\nto = \"{to}\"\nclipboard = \"allow\"\nfiles = \"deny\"\n"
        )
    };
    let e = err(&format!("{TWO}{}", rule("low", "medium")));
    assert!(
        e.message.contains("\"medium\", which is not declared"),
        "{e}"
    );
    assert!(e.fix.contains("low, high"), "{e}");
    let e = err(&format!("{TWO}{}", rule("low", "low")));
    assert!(e.message.contains("to itself"), "{e}");
    let e = err(&format!(
        "{TWO}{}{}",
        rule("low", "high"),
        rule("low", "high")
    ));
    assert!(e.message.contains("second flow rule"), "{e}");
    let e = err(&format!(
        "{TWO}{}",
        rule("low", "high").replace("\"allow\"", "\"maybe\"")
    ));
    assert!(e.message.contains("unknown variant `maybe`"), "{e}");
}

#[test]
fn netns_and_restart_parse() {
    let text = TWO.replace("rank = 1", "rank = 1\nnetwork = \"netns:ipsec0\"")
        + "\n[[level.session]]\ncommand = [\"foot\", \"-e\", \"top\"]\nrestart = \"on-failure\"\n";
    let c = parse(&text, "t").unwrap();
    let high = c.level("high").unwrap();
    assert_eq!(high.network, Network::Netns("ipsec0".into()));
    assert_eq!(high.session[0].restart, Restart::OnFailure);
}

#[test]
fn config_round_trips_through_json() {
    let c = Config::builtin();
    let json = serde_json::to_string(&c).unwrap();
    let back: Config = serde_json::from_str(&json).unwrap();
    assert_eq!(c, back);
}

#[test]
fn missing_file_is_a_clear_error() {
    let e = load(&ConfigSource::File("/nonexistent/cloison.toml".into())).unwrap_err();
    assert_eq!(e.file, "/nonexistent/cloison.toml");
    assert!(e.message.contains("cannot read"), "{e}");
}

#[test]
fn colours_parse_and_compare() {
    let red: Color = "#c62828".parse().unwrap();
    assert_eq!(red.to_string(), "#c62828");
    assert_eq!(red.distance(red), 0.0);
    assert!(red.distance("#2e9e44".parse().unwrap()) > 50.0);
    assert!("#12345".parse::<Color>().is_err());
    assert!("c62828".parse::<Color>().is_err());
}

/// The `toml` blocks of a Markdown document.
fn toml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```toml") => current = Some(String::new()),
            (Some(_), l) if l.starts_with("```") => blocks.push(current.take().unwrap()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

#[test]
fn every_example_in_the_configuration_docs_parses() {
    let docs = include_str!("../../docs/configuration.md");
    let blocks = toml_blocks(docs);
    assert!(blocks.len() >= 5, "found {} examples", blocks.len());
    for (i, block) in blocks.iter().enumerate() {
        if let Err(e) = parse(block, &format!("docs/configuration.md example {}", i + 1)) {
            panic!("{e}\n--- example ---\n{block}");
        }
    }
    // The documented default is the real default.
    let documented = parse(&blocks[0], BUILTIN_NAME).unwrap();
    assert_eq!(documented, Config::builtin());
}

#[test]
fn the_documented_keyboard_example_gives_high_two_layouts() {
    let docs = include_str!("../../docs/configuration.md");
    let block = toml_blocks(docs)
        .into_iter()
        .find(|b| b.contains("bepo"))
        .expect("the [keyboard] example");
    let c = parse(&block, "docs").unwrap();
    assert_eq!(c.keyboard.layout_names(), ["fr(oss)"]);
    assert_eq!(c.levels[0].keyboard.layout_names(), ["fr(oss)"]);
    assert_eq!(c.levels[1].keyboard.layout_names(), ["us", "fr(bepo)"]);
    assert_eq!(c.levels[1].keyboard.options, "ctrl:nocaps");
}

#[test]
fn the_documented_protocols_example_applies_to_the_level_above() {
    let docs = include_str!("../../docs/configuration.md");
    let block = toml_blocks(docs)
        .into_iter()
        .find(|b| b.contains("fullscreen = false"))
        .unwrap();
    let c = parse(&block, "t").unwrap();
    assert!(c.level("low").unwrap().protocols.fullscreen);
    assert!(!c.level("high").unwrap().protocols.fullscreen);
}

#[test]
fn shortcuts_default_and_override() {
    let c = parse(
        &format!("[shortcuts]\nclose = \"ctrl+alt+w\"\nminimize = \"none\"\n{TWO}"),
        "t",
    )
    .unwrap();
    assert_eq!(c.shortcuts.close, "ctrl+alt+w");
    assert_eq!(c.shortcuts.maximize, "super+Up");
    assert!(c.shortcuts.bindings().iter().all(|(a, _)| *a != "minimize"));
    let chord = parse_chord("ctrl+shift+c").unwrap();
    assert!(chord.ctrl && chord.shift && !chord.alt && !chord.logo);
    assert_eq!(chord.key, "c");
}

#[test]
fn bad_shortcuts_name_the_line() {
    let e = err(&format!("[shortcuts]\nclose = \"hyper+q\"\n{TWO}"));
    assert_eq!(e.line, 2, "{e}");
    assert!(e.message.contains("unknown modifier \"hyper\""), "{e}");
    let e = err(&format!("[shortcuts]\nclose = \"super+Up\"\n{TWO}"));
    assert!(
        e.message
            .contains("shortcuts maximize and close are the same chord"),
        "{e}"
    );
    assert_eq!(e.line, 2, "{e}");
    let e = err(&format!("[shortcuts]\nclose = \"ctrl+shift\"\n{TWO}"));
    assert!(e.message.contains("needs a key"), "{e}");
    let e = err(&format!("[shortcuts]\nclsoe = \"super+x\"\n{TWO}"));
    assert!(e.message.contains("unknown field `clsoe`"), "{e}");
}

#[test]
fn globals_allow_list_is_checked() {
    let with = |globals: &str| format!("{TWO}\n[level.protocols]\nglobals = [{globals}]\n");
    let c = parse(&with("\"wp_viewporter\""), "t").unwrap();
    let high = &c.level("high").unwrap().protocols;
    assert!(high.offers("wp_viewporter"));
    assert!(
        high.offers("wl_compositor"),
        "core globals are always offered"
    );
    assert!(!high.offers("wp_presentation"));
    assert!(
        c.level("low").unwrap().protocols.offers("wp_presentation"),
        "default: all optional"
    );
    let e = err(&with("\"zwlr_screencopy_manager_v1\""));
    assert!(e.message.contains("never offered to a level"), "{e}");
    assert_eq!(e.line, 14, "points at the globals line: {e}");
    let e = err(&with("\"wp_frobnicator\""));
    assert!(
        e.message.contains("unknown global \"wp_frobnicator\""),
        "{e}"
    );
    assert!(e.fix.contains("wp_viewporter"), "{e}");
}

#[test]
fn cage_identities_default_apart_and_are_checked() {
    let c = parse(TWO, "t").unwrap();
    assert_eq!(c.level("low").unwrap().uid, DEFAULT_LEVEL_UID);
    assert_eq!(c.level("high").unwrap().uid, DEFAULT_LEVEL_UID + 100_000);
    assert_eq!(c.compositor.uid, DEFAULT_COMPOSITOR_UID);
    assert_eq!(c.level("low").unwrap().landlock, LandlockMode::Required);

    let same = TWO.replace("rank = 0", "rank = 0\nuid = 2100000");
    let e = err(&same);
    assert!(e.message.contains("already level \"low\""), "{e}");
    assert_eq!(e.line, 9, "{e}");

    let small = TWO.replace("rank = 0", "rank = 0\nuid = 1000");
    let e = err(&small);
    assert!(e.message.contains("uid 1000 is not usable"), "{e}");
    assert_eq!(e.line, 7);

    let clash = format!("[compositor]\nuid = 2000000\n{TWO}");
    let e = err(&clash);
    assert!(e.message.contains("compositor's uid 2000000"), "{e}");
    assert!(e.fix.contains("no level uses"), "{e}");

    let best = TWO.replace("rank = 1", "rank = 1\nlandlock = \"best-effort\"");
    let c = parse(&best, "t").unwrap();
    assert_eq!(c.level("high").unwrap().landlock, LandlockMode::BestEffort);
    let e = err(&TWO.replace("rank = 1", "rank = 1\nlandlock = \"maybe\""));
    assert!(e.message.contains("maybe"), "{e}");
}

#[test]
fn menu_apps_and_the_menu_shortcut_are_checked() {
    let apps =
        format!("{TWO}\n[[level.app]]\nname = \"Files\"\ncommand = [\"foot\", \"-e\", \"mc\"]\n");
    let c = parse(&apps, "t").unwrap();
    assert_eq!(c.level("high").unwrap().apps[0].name, "Files");
    assert!(c.level("high").unwrap().desktop_entries);
    let e = err(&format!(
        "{TWO}\n[[level.app]]\nname = \"X\"\ncommand = []\n"
    ));
    assert!(e.message.contains("empty command"), "{e}");
    assert_eq!(e.line, 14);
    let e = err(&format!(
        "{TWO}\n[[level.app]]\nname = \"\\u202eevil\"\ncommand = [\"foot\"]\n"
    ));
    assert!(e.message.contains("invalid menu app name"), "{e}");

    assert_eq!(Config::builtin().shortcuts.launcher_menu, "super");
    let chord = parse(
        &format!("[shortcuts]\nlauncher_menu = \"super+a\"\n{TWO}"),
        "t",
    )
    .unwrap();
    assert_eq!(chord.shortcuts.launcher_menu, "super+a");
    // A lone modifier is a tap only for the menu.
    let e = err(&format!("[shortcuts]\nclose = \"super\"\n{TWO}"));
    assert!(e.message.contains("needs a key"), "{e}");
    let e = err(&format!("[shortcuts]\nlauncher_menu = \"super+q\"\n{TWO}"));
    assert!(e.message.contains("same chord"), "{e}");
    let e = err(&format!(
        "[shortcuts]\nlauncher_menu = \"super+space\"\n{TWO}"
    ));
    assert!(e.message.contains("launcher_menu and next_layout"), "{e}");
}

#[test]
fn each_level_may_have_its_own_keyboard_layouts() {
    let text = TWO.replacen(
        "rank = 1\n",
        "rank = 1\nkeyboard = { layout = \"fr,us\", variant = \"bepo\" }\n",
        1,
    );
    let c = parse(
        &format!("[keyboard]\nlayout = \"de\"\nvariant = \"nodeadkeys\"\n{text}"),
        "t",
    )
    .unwrap();
    assert_eq!(c.keyboard.layout_names(), ["de(nodeadkeys)"]);
    // A level that says nothing types with the session's keymap.
    assert_eq!(c.levels[0].keyboard, c.keyboard);
    // A level's layout does not inherit the session's variant.
    assert_eq!(c.levels[1].keyboard.layout_names(), ["fr(bepo)", "us"]);
    assert_eq!(c.levels[1].keyboard.repeat_rate, c.keyboard.repeat_rate);
    assert_eq!(c.shortcuts.next_layout, "super+space");

    for (bad, why) in [
        ("{ layout = \"us,fr,de,es,it\" }", "at most 4"),
        ("{ layout = \"fr;rm -rf\" }", "invalid keyboard layout name"),
        ("{ layout = \"us\", variant = \"a,b\" }", "2 variants"),
        (
            "{ layout = \"us\", options = \"grp:alt shift\" }",
            "invalid keyboard options",
        ),
        ("{ layuot = \"us\" }", "unknown field"),
    ] {
        let text = TWO.replacen("rank = 1\n", &format!("rank = 1\nkeyboard = {bad}\n"), 1);
        let e = err(&text);
        assert!(e.message.contains(why), "{bad}: {e}");
        assert!(e.line > 1, "{bad}: the level's line: {e}");
    }
    let e = err(&format!("[keyboard]\nlayout = \"US\"\n{TWO}"));
    assert!(e.message.contains("invalid keyboard layout name"), "{e}");
    assert_eq!(e.line, 1);
}

#[test]
fn clipboard_limits_are_checked_and_per_flow_caps_apply() {
    let c = parse(TWO, "t").unwrap();
    assert_eq!(c.clipboard.max_bytes, 1 << 20);
    assert_eq!(c.clipboard_cap("low", "high"), 1 << 20);
    assert!(!c.clipboard_images("low", "high"));
    assert_eq!(c.shortcuts.copy_to_global, "ctrl+shift+c");

    let e = err(&format!("[clipboard]\nmax_bytes = 0\n{TWO}"));
    assert!(e.message.contains("out of range"), "{e}");
    assert_eq!(e.line, 1);
    let e = err(&format!("[clipboard]\ntimeout_ms = 5\n{TWO}"));
    assert!(e.fix.contains("100 to 60000"), "{e}");
    assert_eq!(c.files.confirm_timeout_ms, 600_000);
    let e = err(&format!("[files]\nconfirm_timeout_ms = 10\n{TWO}"));
    assert!(
        e.message
            .contains("confirm_timeout_ms = 10 is out of range"),
        "{e}"
    );
    assert!(e.fix.contains("default 600000"), "{e}");
    assert_eq!(e.line, 1);
    let big = format!(
        "{TWO}\n[[policy.flow]]\nfrom = \"low\"\nto = \"high\"\nclipboard = \"allow\"\nfiles = \"deny\"\nclipboard_max_bytes = 100000000\n"
    );
    let e = err(&big);
    assert!(e.message.contains("out of range"), "{e}");
    assert_eq!(e.line, 19);
    let ok = big.replace("100000000", "4096") + "clipboard_images = true\n";
    let c = parse(&ok, "t").unwrap();
    assert_eq!(c.clipboard_cap("low", "high"), 4096);
    assert_eq!(c.clipboard_cap("high", "low"), 1 << 20);
    assert!(c.clipboard_images("low", "high") && c.clipboard_images_from("low"));
    assert_eq!(c.clipboard_cap_from("low"), 4096);
}

#[test]
fn file_limits_default_and_per_pair() {
    let c = parse(TWO, "t").unwrap();
    let limits = c.file_limits("low", "high");
    assert_eq!(limits.max_file_bytes, 4 << 30);
    assert_eq!(limits.max_total_bytes, 16 << 30);
    assert_eq!(limits.max_count, 1000);
    assert!(limits.extensions.is_empty());
    assert_eq!(
        c.decision(FlowKind::Files, "low", "high"),
        Some((Decision::Confirm, false))
    );
    assert_eq!(
        c.decision(FlowKind::Files, "high", "low"),
        Some((Decision::Deny, false))
    );
    let c = parse(
        &format!(
            "[files]\nmax_file_bytes = 1000\nmax_total_bytes = 5000\nmax_count = 3\n{TWO}\n\
             [[policy.flow]]\nfrom = \"low\"\nto = \"high\"\nclipboard = \"allow\"\n\
             files = \"allow\"\nfiles_max_count = 7\nfiles_extensions = [\".PDF\", \"txt\"]\n"
        ),
        "t",
    )
    .unwrap();
    let limits = c.file_limits("low", "high");
    assert_eq!(
        (
            limits.max_file_bytes,
            limits.max_total_bytes,
            limits.max_count
        ),
        (1000, 5000, 7)
    );
    assert_eq!(limits.extensions, ["pdf", "txt"]);
    // The other direction has no rule: the [files] limits, any extension.
    let limits = c.file_limits("high", "low");
    assert_eq!(limits.max_count, 3);
    assert!(limits.extensions.is_empty());
}

#[test]
fn bad_file_limits_name_the_line_and_the_fix() {
    let flow = |extra: &str| {
        format!(
            "{TWO}\n[[policy.flow]]\nfrom = \"low\"\nto = \"high\"\nclipboard = \"allow\"\n\
             files = \"allow\"\n{extra}\n"
        )
    };
    let e = err(&flow("files_max_count = 0"));
    assert_eq!(e.line, 19, "{e}");
    assert!(e.message.contains("files_max_count is 0"), "{e}");
    assert!(e.fix.contains("files = \"deny\""), "{e}");
    let e = err(&flow("files_extensions = [\"tar/gz\"]"));
    assert_eq!(e.line, 19, "{e}");
    assert!(
        e.message.contains("\"tar/gz\" is not a file extension"),
        "{e}"
    );
    let e = err(&flow("files_extensions = []"));
    assert!(e.message.contains("files_extensions is empty"), "{e}");
    let e = err(&format!("[files]\nmax_count = 0\n{TWO}"));
    assert_eq!(e.line, 1, "{e}");
    assert!(e.message.contains("limit is 0"), "{e}");
    let e = err(&format!(
        "[files]\nmax_file_bytes = 10\nmax_total_bytes = 5\n{TWO}"
    ));
    assert!(e.message.contains("above max_total_bytes"), "{e}");
    let e = err(&format!("[files]\nmax_size = 10\n{TWO}"));
    assert!(e.message.contains("max_size"), "{e}");
}

#[test]
fn the_documented_files_example_applies_its_limits() {
    let docs = include_str!("../../docs/configuration.md");
    let block = toml_blocks(docs)
        .into_iter()
        .find(|b| b.contains("[files]"))
        .unwrap();
    let c = parse(&block, "t").unwrap();
    let limits = c.file_limits("low", "high");
    assert_eq!(limits.max_file_bytes, 1 << 30);
    assert_eq!(limits.max_count, 20);
    assert_eq!(limits.extensions, ["pdf", "txt", "png"]);
    assert_eq!(c.file_limits("high", "low").max_count, 200);
}

#[test]
fn the_documented_limits_example_applies_and_bad_limits_are_refused() {
    let docs = include_str!("../../docs/configuration.md");
    let block = toml_blocks(docs)
        .into_iter()
        .find(|b| b.contains("[limits]"))
        .unwrap();
    let c = parse(&block, "t").unwrap();
    assert_eq!(c.limits.clients, 64);
    assert_eq!(c.limits.surfaces, 512);
    assert_eq!(c.limits.shm_buffers, 1024);
    assert_eq!(c.limits.shm_bytes, 2 << 30);
    assert_eq!(c.limits.frame_callbacks, 8192);
    assert!(c.flow("low", "high").unwrap().clipboard_control_characters);
    assert_eq!(Config::builtin().limits, LimitsConfig::default());
    assert!(
        !Config::builtin()
            .policy
            .flows
            .iter()
            .any(|f| f.clipboard_control_characters)
    );

    let bad = block.replace("clients = 64", "clients = 1");
    let e = parse(&bad, "t").unwrap_err();
    assert!(e.message.contains("clients = 1 is out of range"), "{e}");
    assert!(e.fix.contains("4 to 4096"), "{e}");
    assert_eq!(e.line, 1, "{e}");
    // 2 levels × (4096 clients × 285 + 1024) is more than the kernel lets a process open.
    let too_many = block.replace("clients = 64", "clients = 4096");
    let e = parse(&too_many, "t").unwrap_err();
    assert!(e.message.contains("descriptors"), "{e}");
}

#[test]
fn the_documented_output_example_places_and_configures_displays() {
    let docs = include_str!("../../docs/configuration.md");
    let block = toml_blocks(docs)
        .into_iter()
        .find(|b| b.contains("[[output]]"))
        .unwrap();
    let c = parse(&block, "t").unwrap();
    assert_eq!(c.outputs.len(), 3);
    assert_eq!(c.outputs[0].name, "eDP-1");
    assert_eq!(c.outputs[0].mode, Some((1920, 1080, Some(60))));
    assert_eq!(c.outputs[1].position, Some((960, 0)));
    assert_eq!(c.outputs[1].mode, None);
    assert_eq!((c.outputs[0].scale, c.outputs[1].scale), (2, 1));
    assert!(!c.outputs[2].enabled);
    assert!(c.touchpad.tap && c.touchpad.natural_scroll);
    // Without them: no output settings, tapping on, natural scrolling off.
    let plain = Config::builtin();
    assert!(plain.outputs.is_empty());
    assert!(plain.touchpad.tap && !plain.touchpad.natural_scroll);
}

#[test]
fn bad_output_tables_name_the_line_and_the_fix() {
    let cases = [
        ("[[output]]\nname = \"HDMI A\"\n", "invalid output name", 2),
        (
            "[[output]]\nname = \"DP-1\"\nmode = \"1920*1080\"\n",
            "invalid mode",
            3,
        ),
        (
            "[[output]]\nname = \"DP-1\"\nmode = \"1920x1080@0\"\n",
            "invalid mode",
            3,
        ),
        (
            "[[output]]\nname = \"DP-1\"\nposition = [-5, 0]\n",
            "invalid output position",
            3,
        ),
        (
            "[[output]]\nname = \"DP-1\"\nposition = [1]\n",
            "invalid output position",
            3,
        ),
        (
            "[[output]]\nname = \"DP-1\"\n[[output]]\nname = \"DP-1\"\n",
            "configured twice (first at line 1)",
            4,
        ),
        (
            "[[output]]\nname = \"DP-1\"\nscale = 0\n",
            "invalid output scale",
            3,
        ),
        (
            "[[output]]\nname = \"DP-1\"\nscale = 1.5\n",
            "invalid type",
            3,
        ),
        ("[touchpad]\ntap = \"yes\"\n", "invalid type", 2),
    ];
    for (text, needle, line) in cases {
        let e = err(&format!("{text}{TWO}"));
        assert!(e.message.contains(needle), "{text}: {e}");
        assert_eq!(e.line, line, "{text}: {e}");
        assert!(!e.fix.is_empty(), "{text}: {e}");
    }
}

#[test]
fn the_renderer_choice_is_parsed_and_checked() {
    assert_eq!(Config::builtin().compositor.renderer, RendererChoice::Auto);
    let docs = include_str!("../../docs/configuration.md");
    let block = toml_blocks(docs)
        .into_iter()
        .find(|b| b.contains("renderer = "))
        .unwrap();
    assert_eq!(
        parse(&block, "t").unwrap().compositor.renderer,
        RendererChoice::Pixman
    );
    let e = err(&format!("[compositor]\nrenderer = \"vulkan\"\n{TWO}"));
    assert!(e.message.contains("unknown variant"), "{e}");
    assert_eq!(e.line, 2, "{e}");
}

#[test]
fn the_default_colours_are_the_default_configurations() {
    let c = parse(DEFAULT_CONFIG, "t").unwrap();
    assert_eq!(c.level("low").unwrap().color, DEFAULT_LOW_COLOR);
    assert_eq!(c.level("high").unwrap().color, DEFAULT_HIGH_COLOR);
}

#[test]
fn the_lock_takes_minutes_or_a_duration_and_a_service_name() {
    let with = |lock: &str| parse(&format!("{TWO}\n[lock]\n{lock}\n"), "t");
    assert_eq!(parse(TWO, "t").unwrap().lock.idle_lock_secs, 300);
    assert_eq!(with("idle_lock = 5").unwrap().lock.idle_lock_secs, 300);
    assert_eq!(with("idle_lock = \"90s\"").unwrap().lock.idle_lock_secs, 90);
    assert_eq!(
        with("idle_lock = \"1h\"").unwrap().lock.idle_lock_secs,
        3600
    );
    assert_eq!(with("idle_lock = 0").unwrap().lock.idle_lock_secs, 0);
    for bad in [
        "idle_lock = \"soon\"",
        "idle_lock = \"2d\"",
        "idle_lock = 100000",
    ] {
        let e = with(bad).unwrap_err();
        assert!(e.message.contains("idle_lock"), "{bad}: {e}");
        assert!(e.fix.contains("minutes"), "{e}");
    }
    let e = with("pam_service = \"../shadow\"").unwrap_err();
    assert!(e.message.contains("not a PAM service name"), "{e}");
    assert_eq!(
        with("pam_service = \"cloison-test\"")
            .unwrap()
            .lock
            .pam_service,
        "cloison-test"
    );
    assert!(with("idle_lock = 5").unwrap().lock.before_suspend);
    assert!(!with("before_suspend = false").unwrap().lock.before_suspend);
    let e = with("before_suspend = \"yes\"").unwrap_err();
    assert!(e.message.contains("expected a boolean"), "{e}");
    let e = err(&format!("[shortcuts]\nlock = \"ctrl+shift+c\"\n{TWO}"));
    assert!(e.message.contains("same chord"), "{e}");
}

#[test]
fn notifications_take_a_corner_an_expiry_and_a_count() {
    let c = parse(TWO, "t").unwrap();
    assert_eq!(c.notifications, NotificationsConfig::default());
    assert!(c.levels.iter().all(|l| l.notifications));
    let docs = include_str!("../../docs/configuration.md");
    let block = toml_blocks(docs)
        .into_iter()
        .find(|b| b.contains("[notifications]"))
        .unwrap();
    let c = parse(&block, "t").unwrap();
    assert_eq!(c.notifications.position, Corner::BottomRight);
    assert_eq!(c.notifications.expire_ms, 12_000);
    assert_eq!(c.notifications.max_shown, 3);
    assert!(c.level("low").unwrap().notifications);
    assert!(!c.level("high").unwrap().notifications);
    for (bad, what) in [
        ("expire = \"0s\"", "expire"),
        ("expire = \"2h\"", "expire"),
        ("expire = \"soon\"", "expire"),
        ("max_shown = 0", "max_shown"),
        ("max_shown = 11", "max_shown"),
        ("position = \"middle\"", "unknown variant"),
    ] {
        let e = err(&format!("[notifications]\n{bad}\n{TWO}"));
        assert!(e.message.contains(what), "{bad}: {e}");
        assert_eq!(e.line, 2, "{bad}: {e}");
    }
}

#[test]
fn x11_is_on_demand_unless_a_level_says_always_or_off() {
    let c = parse(TWO, "t").unwrap();
    assert!(c.levels.iter().all(|l| l.x11 == X11Mode::OnDemand));
    let docs = include_str!("../../docs/configuration.md");
    let block = toml_blocks(docs)
        .into_iter()
        .find(|b| b.contains("x11 = \"off\""))
        .unwrap();
    let c = parse(&block, "t").unwrap();
    assert_eq!(c.level("low").unwrap().x11, X11Mode::OnDemand);
    assert_eq!(c.level("high").unwrap().x11, X11Mode::Off);
    let always = TWO.replacen("rank = 0", "rank = 0\nx11 = \"always\"", 1);
    assert_eq!(parse(&always, "t").unwrap().levels[0].x11, X11Mode::Always);
    let bad = TWO.replacen("rank = 0", "rank = 0\nx11 = \"yes\"", 1);
    let e = err(&bad);
    assert!(e.message.contains("unknown variant"), "{e}");
    assert!(e.message.contains("on-demand"), "{e}");
    assert_eq!(X11Mode::OnDemand.to_string(), "on-demand");
}

#[test]
fn a_host_network_is_warned_about_and_the_built_in_levels_are_isolated() {
    let builtin = parse(DEFAULT_CONFIG, "t").unwrap();
    assert!(matches!(builtin.levels[0].network, Network::Nat(_)));
    assert_eq!(builtin.levels[1].network, Network::None);
    assert!(builtin.warnings().is_empty());
    let host = parse(
        &DEFAULT_CONFIG.replace("network = \"nat\"", "network = \"host\""),
        "t",
    )
    .unwrap();
    let warnings = host.warnings();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("\"low\"") && warnings[0].contains("not isolation"));
}

#[test]
fn networks_are_strings_or_tables_and_bad_ones_name_the_line() {
    let with = |network: &str| {
        DEFAULT_CONFIG.replace("network = \"none\"", &format!("network = {network}"))
    };
    let c = parse(&with("{ mode = \"nat\", allow = [\"tcp/443\", \"10.20.0.0/16\"], subnet = \"10.251.7.0/30\" }"), "t").unwrap();
    let Network::Nat(nat) = &c.levels[1].network else {
        panic!("{:?}", c.levels[1].network)
    };
    assert_eq!(nat.allow.as_ref().unwrap().len(), 2);
    let c = parse(
        &with("{ mode = \"wireguard\", config = \"/etc/cloison/high.conf\" }"),
        "t",
    )
    .unwrap();
    assert!(matches!(c.levels[1].network, Network::WireGuard(_)));
    for (bad, want) in [
        ("\"vpn\"", "unknown network mode"),
        ("{ mode = \"nat\", allow = [\"tcp/99999\"] }", "egress rule"),
        ("{ mode = \"wireguard\" }", "missing field `config`"),
        ("\"wireguard\"", "needs its settings"),
        ("{ mode = \"nat\", dns = [\"2001:db8::53\"] }", "IPv4 only"),
        (
            "{ mode = \"nat\", allow = [\"2001:db8::/32\"] }",
            "IPv4 only",
        ),
    ] {
        let e = parse(&with(bad), "cloison.toml").unwrap_err().to_string();
        assert!(e.contains(want), "{bad}: {e}");
        assert!(e.contains("cloison.toml:"), "{bad}: {e}");
    }
    // Two levels on one subnet.
    let both = DEFAULT_CONFIG
        .replace(
            "network = \"nat\"",
            "network = { mode = \"nat\", subnet = \"10.251.7.0/30\" }",
        )
        .replace(
            "network = \"none\"",
            "network = { mode = \"nat\", subnet = \"10.251.7.0/29\" }",
        );
    let e = parse(&both, "t").unwrap_err().to_string();
    assert!(e.contains("overlaps level \"low\""), "{e}");
    // Two levels on one IPsec if_id.
    let ipsec = "{ mode = \"ipsec\", if_id = 7, address = [\"10.30.0.2/32\"] }";
    let both = DEFAULT_CONFIG
        .replace("network = \"nat\"", &format!("network = {ipsec}"))
        .replace("network = \"none\"", &format!("network = {ipsec}"));
    let e = parse(&both, "t").unwrap_err().to_string();
    assert!(e.contains("if_id 7 is level \"low\"'s already"), "{e}");
}
