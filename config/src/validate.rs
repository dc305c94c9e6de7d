//! The configuration as written ("raw", every value that can be wrong with its source span)
//! and its validation into a [`Config`].

use super::*;

// ---------------------------------------------------------------------------------------------
// Raw (as written) form. Every value that validation can reject keeps its span.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    keyboard: Option<Spanned<Keyboard>>,
    #[serde(default)]
    shortcuts: RawShortcuts,
    #[serde(default, rename = "level")]
    levels: Vec<Spanned<RawLevel>>,
    #[serde(default)]
    policy: RawPolicy,
    #[serde(default)]
    compositor: Option<Spanned<CompositorConfig>>,
    #[serde(default)]
    clipboard: Option<Spanned<ClipboardConfig>>,
    #[serde(default)]
    files: Option<Spanned<FilesConfig>>,
    #[serde(default, rename = "output")]
    outputs: Vec<Spanned<RawOutput>>,
    #[serde(default)]
    touchpad: TouchpadConfig,
    #[serde(default)]
    limits: Option<Spanned<LimitsConfig>>,
    #[serde(default)]
    lock: Option<Spanned<RawLock>>,
    #[serde(default)]
    notifications: Option<Spanned<RawNotifications>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotifications {
    #[serde(default)]
    position: Option<Corner>,
    #[serde(default)]
    expire: Option<Spanned<RawDuration>>,
    #[serde(default)]
    max_shown: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLock {
    #[serde(default)]
    idle_lock: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pam_service: Option<Spanned<String>>,
    #[serde(default)]
    before_suspend: Option<bool>,
}

/// A duration as written: whole minutes, or a string with a unit (`"90s"`, `"5m"`, `"1h"`).
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum RawDuration {
    Minutes(u64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutput {
    name: Spanned<String>,
    #[serde(default)]
    mode: Option<Spanned<String>>,
    #[serde(default)]
    position: Option<Spanned<Vec<i64>>>,
    #[serde(default)]
    scale: Option<Spanned<i64>>,
    #[serde(default = "yes")]
    enabled: bool,
}

pub(crate) fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLevel {
    name: Spanned<String>,
    label: Spanned<String>,
    color: Spanned<String>,
    rank: u32,
    #[serde(default)]
    network: Option<Spanned<crate::network::RawNetwork>>,
    #[serde(default)]
    session: Vec<Spanned<RawApp>>,
    #[serde(default)]
    protocols: Option<Spanned<Protocols>>,
    #[serde(default)]
    uid: Option<Spanned<u32>>,
    #[serde(default)]
    landlock: LandlockMode,
    #[serde(default, rename = "app")]
    apps: Vec<Spanned<MenuApp>>,
    #[serde(default = "yes")]
    desktop_entries: bool,
    #[serde(default = "yes")]
    notifications: bool,
    #[serde(default)]
    x11: X11Mode,
    #[serde(default)]
    keyboard: Option<Spanned<crate::keyboard::RawLevelKeyboard>>,
}

pub(crate) fn yes() -> bool {
    true
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawShortcuts {
    cycle_windows: Option<Spanned<String>>,
    cycle_windows_backward: Option<Spanned<String>>,
    maximize: Option<Spanned<String>>,
    fullscreen: Option<Spanned<String>>,
    close: Option<Spanned<String>>,
    minimize: Option<Spanned<String>>,
    launcher_menu: Option<Spanned<String>>,
    copy_to_global: Option<Spanned<String>>,
    paste_from_global: Option<Spanned<String>>,
    lock: Option<Spanned<String>>,
    next_layout: Option<Spanned<String>>,
    release_pointer: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApp {
    command: Vec<String>,
    #[serde(default)]
    restart: Restart,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicy {
    #[serde(default, rename = "flow")]
    flows: Vec<Spanned<RawFlow>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFlow {
    from: Spanned<String>,
    to: Spanned<String>,
    clipboard: Decision,
    files: Decision,
    #[serde(default)]
    clipboard_max_bytes: Option<Spanned<u64>>,
    #[serde(default)]
    clipboard_images: bool,
    #[serde(default)]
    files_max_file_bytes: Option<Spanned<u64>>,
    #[serde(default)]
    files_max_total_bytes: Option<Spanned<u64>>,
    #[serde(default)]
    files_max_count: Option<Spanned<usize>>,
    #[serde(default)]
    files_extensions: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    clipboard_control_characters: bool,
}

pub(crate) type Invalid = (Option<Range<usize>>, String, String);

pub(crate) fn invalid(
    span: Range<usize>,
    message: impl Into<String>,
    fix: impl Into<String>,
) -> Invalid {
    (Some(span), message.into(), fix.into())
}

/// Checks a level name: it becomes a path component, a seat name and a command argument.
pub fn check_level_name(name: &str) -> Result<(), BadValue> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if name.len() > 32 || !first_ok || !rest_ok {
        return Err(BadValue::from(format!(
            "invalid level name {name:?}: it must start with a lowercase letter, use only a-z, 0-9, '-' and '_', and have at most 32 characters"
        )));
    }
    Ok(())
}

/// How a span maps to its line (for "first declared at line N" messages).
type LineOf<'a> = &'a dyn Fn(&Range<usize>) -> usize;

pub(crate) fn validate(raw: RawConfig, file: &str, text: &str) -> Result<Config, Invalid> {
    let line_of = |span: &Range<usize>| line_col(text, span.start).0;
    let keyboard = match &raw.keyboard {
        None => Keyboard::default(),
        Some(k) => {
            k.get_ref().check().map_err(|m| {
                invalid(
                    k.span(),
                    m,
                    "use xkb names, e.g. layout = \"fr\" or layout = \"us,fr\" (see `localectl list-x11-keymap-layouts`)",
                )
            })?;
            k.get_ref().clone()
        }
    };
    let levels = validate_levels(&raw.levels, &keyboard, &line_of)?;
    let flows = validate_flows(&raw.policy.flows, &levels)?;
    let shortcuts = validate_shortcuts(&raw.shortcuts)?;
    let compositor = validate_compositor(raw.compositor.as_ref(), &levels)?;
    let clipboard = validate_clipboard(raw.clipboard.as_ref())?;
    let files = validate_files(raw.files.as_ref())?;
    let outputs = validate_outputs(&raw.outputs, &line_of)?;
    let limits = validate_limits(raw.limits.as_ref(), levels.len())?;
    let lock = validate_lock(raw.lock.as_ref())?;
    let notifications = validate_notifications(raw.notifications.as_ref())?;
    Ok(Config {
        source: file.to_string(),
        keyboard,
        shortcuts,
        levels,
        policy: Policy { flows },
        compositor,
        clipboard,
        files,
        outputs,
        touchpad: raw.touchpad,
        limits,
        lock,
        notifications,
    })
}

/// `[notifications]`: a corner, a default expiry of 1 s to 10 minutes, 1 to 10 shown at once.
fn validate_notifications(
    raw: Option<&Spanned<RawNotifications>>,
) -> Result<NotificationsConfig, Invalid> {
    let mut n = NotificationsConfig::default();
    let Some(raw) = raw else {
        return Ok(n);
    };
    let raw = raw.get_ref();
    if let Some(position) = raw.position {
        n.position = position;
    }
    if let Some(expire) = &raw.expire {
        n.expire_ms = parse_duration(expire.get_ref())
            .filter(|s| (1..=600).contains(s))
            .map(|s| s * 1000)
            .ok_or_else(|| {
                invalid(
                    expire.span(),
                    "expire is not a duration of 1 s to 10 minutes",
                    "give a duration with its unit, e.g. expire = \"8s\" (a bare number is minutes)",
                )
            })?;
    }
    if let Some(max) = &raw.max_shown {
        n.max_shown = usize::try_from(*max.get_ref())
            .ok()
            .filter(|m| (1..=10).contains(m))
            .ok_or_else(|| {
                invalid(
                    max.span(),
                    format!("max_shown = {} is out of range", max.get_ref()),
                    "show 1 to 10 notifications at once, e.g. max_shown = 5",
                )
            })?;
    }
    Ok(n)
}

/// `[lock]`: an idle time of at most a day (0: never), a PAM service name, whether to lock
/// before suspend.
fn validate_lock(raw: Option<&Spanned<RawLock>>) -> Result<LockConfig, Invalid> {
    let mut lock = LockConfig::default();
    let Some(raw) = raw else {
        return Ok(lock);
    };
    if let Some(idle) = &raw.get_ref().idle_lock {
        lock.idle_lock_secs = parse_duration(idle.get_ref())
            .filter(|s| *s <= 86_400)
            .ok_or_else(|| {
                invalid(
                    idle.span(),
                    "idle_lock is not a duration of at most a day",
                    "give minutes (idle_lock = 5), a duration with its unit (idle_lock = \"90s\", \"10m\", \"1h\"), or 0 to never lock when idle",
                )
            })?;
    }
    if let Some(service) = &raw.get_ref().pam_service {
        let name = service.get_ref();
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || name.starts_with('.')
        {
            return Err(invalid(
                service.span(),
                format!("pam_service {name:?} is not a PAM service name"),
                "name a file of /etc/pam.d, e.g. pam_service = \"cloison\"",
            ));
        }
        lock.pam_service = name.clone();
    }
    if let Some(before_suspend) = raw.get_ref().before_suspend {
        lock.before_suspend = before_suspend;
    }
    Ok(lock)
}

/// Seconds of a [`RawDuration`].
fn parse_duration(raw: &RawDuration) -> Option<u64> {
    match raw {
        RawDuration::Minutes(m) => m.checked_mul(60),
        RawDuration::Text(text) => {
            let text = text.trim();
            let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
            let n: u64 = digits.parse().ok()?;
            n.checked_mul(match unit.trim() {
                "s" => 1,
                "m" | "min" => 60,
                "h" => 3600,
                _ => return None,
            })
        }
    }
}

/// `[[level]]`: at least two, at most [`MAX_LEVELS`], names, labels, colours and uids
/// distinct.
fn validate_levels(
    raw: &[Spanned<RawLevel>],
    keyboard: &Keyboard,
    line_of: LineOf,
) -> Result<Vec<Level>, Invalid> {
    if raw.len() > MAX_LEVELS {
        return Err(invalid(
            raw[MAX_LEVELS].span(),
            format!(
                "{} levels are declared; at most {MAX_LEVELS} are supported",
                raw.len()
            ),
            "merge or remove levels",
        ));
    }
    let mut levels: Vec<Level> = Vec::new();
    // (name span, colour span) of each level, for "first declared at" messages.
    let mut spans: Vec<(Range<usize>, Range<usize>)> = Vec::new();
    for spanned in raw {
        let level = validate_level(spanned, &levels, &spans, keyboard, line_of)?;
        spans.push((
            spanned.get_ref().name.span(),
            spanned.get_ref().color.span(),
        ));
        levels.push(level);
    }
    if levels.len() < 2 {
        return Err((
            raw.first().map(|l| l.span()),
            format!(
                "{} level(s) declared; a Cloison session needs at least two",
                levels.len()
            ),
            "declare at least two [[level]] tables (the built-in default has \"low\" and \"high\"; see docs/configuration.md)".into(),
        ));
    }
    Ok(levels)
}

/// One `[[level]]`, against the ones before it (`spans`: their name and colour spans).
fn validate_level(
    spanned: &Spanned<RawLevel>,
    before: &[Level],
    spans: &[(Range<usize>, Range<usize>)],
    keyboard: &Keyboard,
    line_of: LineOf,
) -> Result<Level, Invalid> {
    let level = spanned.get_ref();
    let name = level.name.get_ref();
    check_level_name(name).map_err(|m| {
        invalid(
            level.name.span(),
            m,
            "rename the level, e.g. name = \"high\"",
        )
    })?;
    if let Some(first) = before.iter().position(|l| &l.name == name) {
        return Err(invalid(
            level.name.span(),
            format!(
                "duplicate level name {name:?} (first declared at line {})",
                line_of(&spans[first].0)
            ),
            "give each [[level]] a unique name",
        ));
    }
    let label = validate_label(&level.label, before)?;
    let color = validate_color(&level.color, name, before, spans, line_of)?;
    let network = match &level.network {
        None => Network::None,
        Some(net) => {
            let hint = |m: BadValue| {
                invalid(
                    net.span(),
                    m,
                    "use network = \"none\", \"nat\", \"host\", \"netns:NAME\" or a table (see docs/configuration.md, \"Networks\")",
                )
            };
            let network = crate::network::parse_network(net.get_ref()).map_err(hint)?;
            crate::network::check_against(&network, before)
                .map_err(|(m, fix)| invalid(net.span(), m, fix))?;
            network
        }
    };
    let mut session = Vec::new();
    for app in &level.session {
        check_command(app.span(), &app.get_ref().command, "a session app")?;
        session.push(SessionApp {
            command: app.get_ref().command.clone(),
            restart: app.get_ref().restart,
        });
    }
    let protocols = match &level.protocols {
        None => Protocols::default(),
        Some(p) => validate_protocols(p)?,
    };
    let uid = validate_level_uid(spanned, before)?;
    let mut apps = Vec::new();
    for app in &level.apps {
        let a = app.get_ref();
        check_command(app.span(), &a.command, "a menu app")?;
        if a.name.trim().is_empty()
            || a.name.chars().count() > 64
            || a.name.chars().any(|c| c.is_control() || is_invisible(c))
        {
            return Err(invalid(
                app.span(),
                format!("invalid menu app name {:?}", a.name),
                "use 1 to 64 visible characters, e.g. name = \"Terminal\"",
            ));
        }
        apps.push(MenuApp {
            name: a.name.trim().to_string(),
            command: a.command.clone(),
        });
    }
    Ok(Level {
        name: name.clone(),
        label,
        color,
        rank: level.rank,
        network,
        session,
        protocols,
        uid,
        landlock: level.landlock,
        apps,
        desktop_entries: level.desktop_entries,
        notifications: level.notifications,
        x11: level.x11,
        keyboard: crate::keyboard::level_keyboard(keyboard, level.keyboard.as_ref())?,
    })
}

/// A level's label: short, visible, and not another level's.
fn validate_label(label: &Spanned<String>, before: &[Level]) -> Result<String, Invalid> {
    let text = label.get_ref();
    if text.trim().is_empty()
        || text.chars().count() > MAX_LABEL_CHARS
        || text.chars().any(|c| c.is_control() || is_invisible(c))
    {
        return Err(invalid(
            label.span(),
            format!("invalid label {text:?}: it must be 1 to {MAX_LABEL_CHARS} visible characters"),
            "use a short label such as \"HIGH\"",
        ));
    }
    if let Some(other) = before
        .iter()
        .find(|l| l.label.eq_ignore_ascii_case(text.trim()))
    {
        return Err(invalid(
            label.span(),
            format!("label {text:?} is already used by level {:?}", other.name),
            "give each level a distinct label: users tell levels apart by it",
        ));
    }
    Ok(text.trim().to_string())
}

/// Level `name`'s colour: clearly different from every other level's.
fn validate_color(
    color: &Spanned<String>,
    name: &str,
    before: &[Level],
    spans: &[(Range<usize>, Range<usize>)],
    line_of: LineOf,
) -> Result<Color, Invalid> {
    let parsed: Color = color.get_ref().parse().map_err(|m: BadValue| {
        invalid(
            color.span(),
            m,
            "write the colour as \"#rrggbb\", e.g. \"#c62828\"",
        )
    })?;
    for (i, other) in before.iter().enumerate() {
        let distance = parsed.distance(other.color);
        if distance < MIN_COLOR_DISTANCE {
            let what = if distance == 0.0 {
                "the same as"
            } else {
                "too similar to"
            };
            return Err(invalid(
                color.span(),
                format!(
                    "colour {parsed} of level {name:?} is {what} colour {} of level {:?} (line {}; ΔE {distance:.1}, at least {MIN_COLOR_DISTANCE} is needed)",
                    other.color,
                    other.name,
                    line_of(&spans[i].1),
                ),
                "pick clearly different colours: users tell levels apart by them (e.g. green #2e9e44, red #c62828, blue #1565c0, orange #ef6c00)",
            ));
        }
    }
    Ok(parsed)
}

/// A program to run (`what` names it in the message): a program, and no NUL anywhere.
fn check_command(span: Range<usize>, command: &[String], what: &str) -> Result<(), Invalid> {
    if command.first().is_none_or(String::is_empty) {
        return Err(invalid(
            span,
            format!("{what} has an empty command"),
            "give the program and its arguments, e.g. command = [\"foot\"]",
        ));
    }
    if command.iter().any(|arg| arg.contains('\0')) {
        return Err(invalid(
            span,
            format!("{what}'s command contains a NUL character"),
            "remove the NUL character",
        ));
    }
    Ok(())
}

/// A level's `[level.protocols]`: only globals that may be offered to a level.
fn validate_protocols(p: &Spanned<Protocols>) -> Result<Protocols, Invalid> {
    let protocols = p.get_ref().clone();
    for global in &protocols.globals {
        if CORE_GLOBALS.contains(&global.as_str()) {
            continue;
        }
        if NEVER_OFFERED.contains(&global.as_str()) {
            return Err(invalid(
                p.span(),
                format!(
                    "{global} is never offered to a level: it would let a level capture, control or impersonate what is not its own"
                ),
                "remove it from globals",
            ));
        }
        if !OPTIONAL_GLOBALS.contains(&global.as_str()) {
            return Err(invalid(
                p.span(),
                format!("unknown global {global:?}"),
                format!("use names from: {}", OPTIONAL_GLOBALS.join(", ")),
            ));
        }
    }
    Ok(protocols)
}

/// A level's outside uid: given, or the default for its position; no other level's.
fn validate_level_uid(spanned: &Spanned<RawLevel>, before: &[Level]) -> Result<u32, Invalid> {
    let level = spanned.get_ref();
    let uid = match &level.uid {
        None => DEFAULT_LEVEL_UID + 100_000 * before.len() as u32,
        Some(uid) => {
            check_outside_uid(*uid.get_ref()).map_err(|m| {
                invalid(
                    uid.span(),
                    m,
                    "give the level its own uid, e.g. uid = 2000000 (a range no account uses)",
                )
            })?;
            *uid.get_ref()
        }
    };
    if let Some(other) = before.iter().find(|l| l.uid == uid) {
        return Err(invalid(
            level
                .uid
                .as_ref()
                .map(|u| u.span())
                .unwrap_or(spanned.span()),
            format!("uid {uid} is already level {:?}'s", other.name),
            "give each level its own uid: the kernel separates the levels' files by it",
        ));
    }
    Ok(uid)
}

/// `[[policy.flow]]`: each between two declared, different levels, one per ordered pair.
fn validate_flows(raw: &[Spanned<RawFlow>], levels: &[Level]) -> Result<Vec<Flow>, Invalid> {
    let mut flows: Vec<Flow> = Vec::new();
    for spanned in raw {
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
        flows.push(validate_flow(f)?);
    }
    Ok(flows)
}

/// One flow rule's limits.
fn validate_flow(f: &RawFlow) -> Result<Flow, Invalid> {
    if let Some(max) = &f.clipboard_max_bytes {
        check_clipboard_bytes(*max.get_ref()).map_err(|m| {
            invalid(
                max.span(),
                m,
                format!(
                    "use at most {MAX_CLIPBOARD_BYTES} (64 MiB), e.g. clipboard_max_bytes = 4194304"
                ),
            )
        })?;
    }
    let positive = |value: Option<&Spanned<u64>>, key: &str| match value {
        Some(v) if *v.get_ref() == 0 => Err(invalid(
            v.span(),
            format!("{key} is 0: no file could ever cross"),
            "use a positive limit, or files = \"deny\" to stop files for this pair",
        )),
        _ => Ok(value.map(|v| *v.get_ref())),
    };
    let files_max_file_bytes = positive(f.files_max_file_bytes.as_ref(), "files_max_file_bytes")?;
    let files_max_total_bytes =
        positive(f.files_max_total_bytes.as_ref(), "files_max_total_bytes")?;
    let count = f
        .files_max_count
        .as_ref()
        .map(|c| Spanned::new(c.span(), *c.get_ref() as u64));
    let files_max_count = positive(count.as_ref(), "files_max_count")?.map(|c| c as usize);
    let files_extensions = match &f.files_extensions {
        None => Vec::new(),
        Some(list) => validate_extensions(list)?,
    };
    Ok(Flow {
        from: f.from.get_ref().clone(),
        to: f.to.get_ref().clone(),
        clipboard: f.clipboard,
        files: f.files,
        clipboard_max_bytes: f.clipboard_max_bytes.as_ref().map(|m| *m.get_ref()),
        clipboard_images: f.clipboard_images,
        files_max_file_bytes,
        files_max_total_bytes,
        files_max_count,
        files_extensions,
        clipboard_control_characters: f.clipboard_control_characters,
    })
}

/// A flow's `files_extensions`: letters and digits, lowercased, at least one.
fn validate_extensions(list: &Spanned<Vec<String>>) -> Result<Vec<String>, Invalid> {
    let mut out = Vec::new();
    for ext in list.get_ref() {
        let clean = ext.trim_start_matches('.').to_ascii_lowercase();
        if clean.is_empty() || clean.len() > 16 || !clean.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(invalid(
                list.span(),
                format!("{ext:?} is not a file extension"),
                "list extensions as letters and digits, e.g. files_extensions = [\"pdf\", \"txt\"]",
            ));
        }
        out.push(clean);
    }
    if out.is_empty() {
        return Err(invalid(
            list.span(),
            "files_extensions is empty: no file could ever cross",
            "list the allowed extensions, remove the key to allow any, or use files = \"deny\"",
        ));
    }
    Ok(out)
}

/// `[compositor]`: its own uid, no level's.
fn validate_compositor(
    raw: Option<&Spanned<CompositorConfig>>,
    levels: &[Level],
) -> Result<CompositorConfig, Invalid> {
    let compositor = match raw {
        None => CompositorConfig::default(),
        Some(c) => {
            let compositor = c.get_ref().clone();
            check_outside_uid(compositor.uid).map_err(|m| {
                invalid(
                    c.span(),
                    m,
                    "give the compositor its own uid, e.g. uid = 1900000",
                )
            })?;
            compositor
        }
    };
    if let Some(level) = levels.iter().find(|l| l.uid == compositor.uid) {
        return Err((
            raw.map(|c| c.span()),
            format!(
                "the compositor's uid {} is also level {:?}'s",
                compositor.uid, level.name
            ),
            "give the compositor a uid no level uses: it must not own any level's files".into(),
        ));
    }
    Ok(compositor)
}

/// `[clipboard]`: its size cap and timeout within range.
fn validate_clipboard(raw: Option<&Spanned<ClipboardConfig>>) -> Result<ClipboardConfig, Invalid> {
    let Some(c) = raw else {
        return Ok(ClipboardConfig::default());
    };
    let clipboard = c.get_ref().clone();
    check_clipboard_bytes(clipboard.max_bytes).map_err(|m| {
        invalid(
            c.span(),
            m,
            "use at most 67108864 (64 MiB), e.g. max_bytes = 1048576",
        )
    })?;
    if !(100..=60_000).contains(&clipboard.timeout_ms) {
        return Err(invalid(
            c.span(),
            format!("timeout_ms = {} is out of range", clipboard.timeout_ms),
            "use 100 to 60000 milliseconds (default 2000)",
        ));
    }
    Ok(clipboard)
}

/// `[files]`: positive limits, a file no larger than a request, a dialog timeout in range.
fn validate_files(raw: Option<&Spanned<FilesConfig>>) -> Result<FilesConfig, Invalid> {
    let Some(f) = raw else {
        return Ok(FilesConfig::default());
    };
    let files = f.get_ref().clone();
    if files.max_file_bytes == 0 || files.max_total_bytes == 0 || files.max_count == 0 {
        return Err(invalid(
            f.span(),
            "a [files] limit is 0: no file could ever cross",
            "use positive limits (e.g. max_file_bytes = 1073741824), or files = \"deny\" in the flow rules",
        ));
    }
    if files.max_file_bytes > files.max_total_bytes {
        return Err(invalid(
            f.span(),
            format!(
                "max_file_bytes ({}) is above max_total_bytes ({})",
                files.max_file_bytes, files.max_total_bytes
            ),
            "a request holds at least one file: raise max_total_bytes or lower max_file_bytes",
        ));
    }
    if !(1_000..=86_400_000).contains(&files.confirm_timeout_ms) {
        return Err(invalid(
            f.span(),
            format!(
                "confirm_timeout_ms = {} is out of range",
                files.confirm_timeout_ms
            ),
            "use 1000 (a second) to 86400000 (a day) milliseconds (default 600000)",
        ));
    }
    Ok(files)
}

/// `[limits]`: each within a range a level can work in, and the descriptors of every level
/// together within what the compositor can hold.
pub(crate) fn validate_limits(
    raw: Option<&Spanned<LimitsConfig>>,
    levels: usize,
) -> Result<LimitsConfig, Invalid> {
    let Some(raw) = raw else {
        return Ok(LimitsConfig::default());
    };
    let limits = raw.get_ref().clone();
    let ranges: [(&str, u64, u64, u64); 5] = [
        ("clients", limits.clients as u64, 4, 4096),
        ("surfaces", limits.surfaces as u64, 64, 1 << 20),
        ("shm_buffers", limits.shm_buffers as u64, 16, 1 << 16),
        ("shm_bytes", limits.shm_bytes, 64 << 20, 1 << 40),
        (
            "frame_callbacks",
            limits.frame_callbacks as u64,
            64,
            1 << 20,
        ),
    ];
    for (key, value, min, max) in ranges {
        if !(min..=max).contains(&value) {
            let default = match key {
                "clients" => LimitsConfig::default().clients as u64,
                "surfaces" => LimitsConfig::default().surfaces as u64,
                "shm_buffers" => LimitsConfig::default().shm_buffers as u64,
                "shm_bytes" => LimitsConfig::default().shm_bytes,
                _ => LimitsConfig::default().frame_callbacks as u64,
            };
            return Err(invalid(
                raw.span(),
                format!("[limits] {key} = {value} is out of range"),
                format!("use {min} to {max} (default {default})"),
            ));
        }
    }
    let descriptors = levels * (limits.clients * DESCRIPTORS_PER_CLIENT + limits.shm_buffers);
    if descriptors > MAX_COMPOSITOR_DESCRIPTORS {
        return Err(invalid(
            raw.span(),
            format!(
                "{levels} levels × (clients {} × {DESCRIPTORS_PER_CLIENT} + shm_buffers {}) = {descriptors} descriptors, more than the compositor holds ({MAX_COMPOSITOR_DESCRIPTORS})",
                limits.clients, limits.shm_buffers
            ),
            "lower clients or shm_buffers",
        ));
    }
    Ok(limits)
}

pub(crate) fn validate_outputs(
    raw: &[Spanned<RawOutput>],
    line_of: LineOf,
) -> Result<Vec<OutputConfig>, Invalid> {
    let mut outputs: Vec<OutputConfig> = Vec::new();
    for (i, spanned) in raw.iter().enumerate() {
        let output = spanned.get_ref();
        let name = output.name.get_ref();
        if name.is_empty()
            || name.len() > 32
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(
                output.name.span(),
                format!("invalid output name {name:?}"),
                "use the connector's name, e.g. \"HDMI-A-1\", \"DP-2\", \"eDP-1\" (`cloison ctl status` lists them)",
            ));
        }
        if let Some(first) = raw[..i].iter().find(|o| o.get_ref().name.get_ref() == name) {
            return Err(invalid(
                output.name.span(),
                format!(
                    "output {name:?} is configured twice (first at line {})",
                    line_of(&first.span())
                ),
                "merge the two [[output]] sections",
            ));
        }
        let mode = match &output.mode {
            None => None,
            Some(mode) => Some(parse_mode(mode.get_ref()).map_err(|m| {
                invalid(
                    mode.span(),
                    m,
                    "write WIDTHxHEIGHT or WIDTHxHEIGHT@HZ, e.g. \"1920x1080\" or \"2560x1440@60\"",
                )
            })?),
        };
        let position = match &output.position {
            None => None,
            Some(position) => match position.get_ref().as_slice() {
                [x, y] if (0..=32768).contains(x) && (0..=32768).contains(y) => {
                    Some((*x as i32, *y as i32))
                }
                _ => {
                    return Err(invalid(
                        position.span(),
                        format!("invalid output position {:?}", position.get_ref()),
                        "write [X, Y] with whole numbers from 0 to 32768, e.g. position = [1920, 0]",
                    ));
                }
            },
        };
        let scale = match &output.scale {
            None => 1,
            Some(scale) => match *scale.get_ref() {
                s @ 1..=4 => s as u32,
                s => {
                    return Err(invalid(
                        scale.span(),
                        format!("invalid output scale {s}"),
                        "use a whole number from 1 to 4 (fractional scales are not supported)",
                    ));
                }
            },
        };
        outputs.push(OutputConfig {
            name: name.clone(),
            mode,
            position,
            scale,
            enabled: output.enabled,
        });
    }
    Ok(outputs)
}

/// Parses `WIDTHxHEIGHT` or `WIDTHxHEIGHT@HZ`.
pub fn parse_mode(text: &str) -> Result<(u32, u32, Option<u32>), BadValue> {
    let bad = || format!("invalid mode {text:?}");
    let (size, refresh) = match text.split_once('@') {
        Some((size, hz)) => (
            size,
            Some(
                hz.parse::<u32>()
                    .ok()
                    .filter(|hz| (1..=1000).contains(hz))
                    .ok_or_else(bad)?,
            ),
        ),
        None => (text, None),
    };
    let (w, h) = size.split_once('x').ok_or_else(bad)?;
    let dimension = |v: &str| v.parse::<u32>().ok().filter(|v| (64..=16384).contains(v));
    match (dimension(w), dimension(h)) {
        (Some(w), Some(h)) => Ok((w, h, refresh)),
        _ => Err(BadValue::from(bad())),
    }
}

pub(crate) fn validate_shortcuts(raw: &RawShortcuts) -> Result<Shortcuts, Invalid> {
    let mut shortcuts = Shortcuts::default();
    let fields: [(&'static str, &Option<Spanned<String>>, &mut String); 12] = [
        (
            "cycle_windows",
            &raw.cycle_windows,
            &mut shortcuts.cycle_windows,
        ),
        (
            "cycle_windows_backward",
            &raw.cycle_windows_backward,
            &mut shortcuts.cycle_windows_backward,
        ),
        ("maximize", &raw.maximize, &mut shortcuts.maximize),
        ("fullscreen", &raw.fullscreen, &mut shortcuts.fullscreen),
        ("close", &raw.close, &mut shortcuts.close),
        ("minimize", &raw.minimize, &mut shortcuts.minimize),
        (
            "launcher_menu",
            &raw.launcher_menu,
            &mut shortcuts.launcher_menu,
        ),
        (
            "copy_to_global",
            &raw.copy_to_global,
            &mut shortcuts.copy_to_global,
        ),
        (
            "paste_from_global",
            &raw.paste_from_global,
            &mut shortcuts.paste_from_global,
        ),
        ("lock", &raw.lock, &mut shortcuts.lock),
        ("next_layout", &raw.next_layout, &mut shortcuts.next_layout),
        (
            "release_pointer",
            &raw.release_pointer,
            &mut shortcuts.release_pointer,
        ),
    ];
    let mut seen: Vec<(Chord, &'static str, Option<Range<usize>>)> = Vec::new();
    for (action, given, target) in fields {
        if let Some(value) = given {
            *target = value.get_ref().clone();
        }
        let span = given.as_ref().map(|v| v.span());
        if target == "none" {
            continue;
        }
        // The launcher menu may be a tap of Super alone (pressed and released, nothing else).
        if action == "launcher_menu" && target.eq_ignore_ascii_case("super") {
            *target = "super".into();
            continue;
        }
        let parsed = parse_chord(target).map_err(|m| {
            (
                span.clone(),
                format!("shortcut {action} = {target:?}: {m}"),
                "write it like \"super+q\" or \"alt+shift+Tab\", or \"none\" to disable it"
                    .to_string(),
            )
        })?;
        let normalized = Chord {
            key: parsed.key.to_ascii_lowercase(),
            ..parsed
        };
        if let Some((_, other, _)) = seen.iter().find(|(c, _, _)| *c == normalized) {
            return Err((
                span.or_else(|| {
                    seen.iter()
                        .find(|(_, a, _)| a == other)
                        .and_then(|s| s.2.clone())
                }),
                format!("shortcuts {other} and {action} are the same chord ({target:?})"),
                "give each action its own chord".to_string(),
            ));
        }
        seen.push((normalized, action, span));
    }
    Ok(shortcuts)
}

pub(crate) fn check_clipboard_bytes(bytes: u64) -> Result<(), BadValue> {
    if bytes == 0 || bytes > MAX_CLIPBOARD_BYTES {
        return Err(BadValue::from(format!(
            "a clipboard cap of {bytes} bytes is out of range (1 to {MAX_CLIPBOARD_BYTES})"
        )));
    }
    Ok(())
}

pub(crate) fn check_outside_uid(uid: u32) -> Result<(), BadValue> {
    if !(MIN_OUTSIDE_UID..u32::MAX - 1).contains(&uid) {
        return Err(BadValue::from(format!(
            "uid {uid} is not usable for a cage: it must be from {MIN_OUTSIDE_UID} to {}, outside the accounts' range",
            u32::MAX - 2
        )));
    }
    Ok(())
}
