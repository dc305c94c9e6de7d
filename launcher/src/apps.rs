//! What the launcher menu offers per level: the configured apps, then (unless a level says
//! `desktop_entries = false`) the applications installed in `/usr/share/applications`, which
//! every cage sees as the host's `/usr`. `.desktop` files are parsed with
//! `freedesktop-desktop-entry`; their `Exec` becomes an argv (field codes dropped), never a
//! shell command line.

use std::path::Path;

use cloison_config::Level;

/// Entries listed per level at most.
pub const MAX_ENTRIES: usize = 24;

/// One menu entry: what the menu shows and what starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuEntry {
    /// Shown name.
    pub name: String,
    /// The command, run directly in the level's cage.
    pub argv: Vec<String>,
}

/// The menu of `level`, with installed applications read from `applications` (normally
/// `/usr/share/applications`).
pub fn menu(level: &Level, applications: &Path) -> Vec<MenuEntry> {
    let mut entries: Vec<MenuEntry> = level
        .apps
        .iter()
        .map(|a| MenuEntry {
            name: a.name.clone(),
            argv: a.command.clone(),
        })
        .collect();
    if level.desktop_entries {
        // An installed application that is already listed (same program and arguments, or
        // same name) is not listed twice.
        let same = |a: &MenuEntry, b: &MenuEntry| {
            a.name == b.name
                || (a.argv[1..] == b.argv[1..]
                    && resolve(&a.argv[0]).unwrap_or_else(|| a.argv[0].clone())
                        == resolve(&b.argv[0]).unwrap_or_else(|| b.argv[0].clone()))
        };
        for entry in installed(applications) {
            if !entries.iter().any(|e| same(e, &entry)) {
                entries.push(entry);
            }
        }
    }
    entries.truncate(MAX_ENTRIES);
    entries
}

/// Installed applications a cage can start: shown, not terminal-only, not for another
/// desktop, with a program that exists under `/usr` or `/bin`. Sorted by name.
pub fn installed(dir: &Path) -> Vec<MenuEntry> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = read
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "desktop"))
        .collect();
    files.sort();
    let mut entries: Vec<MenuEntry> = files
        .iter()
        .filter_map(|path| {
            let entry =
                freedesktop_desktop_entry::DesktopEntry::from_path(path, None::<&[&str]>).ok()?;
            if entry.type_() != Some("Application")
                || entry.no_display()
                || entry.hidden()
                || entry.terminal()
                || entry.only_show_in().is_some_and(|d| !d.is_empty())
            {
                return None;
            }
            if let Some(try_exec) = entry.try_exec()
                && resolve(try_exec).is_none()
            {
                return None;
            }
            let argv = entry.parse_exec().ok()?;
            let program = resolve(argv.first()?)?;
            let mut argv = argv;
            argv[0] = program;
            let name = entry.name(&[] as &[&str])?.trim().to_string();
            (!name.is_empty()).then_some(MenuEntry { name, argv })
        })
        .collect();
    entries.sort_by_key(|e| e.name.to_lowercase());
    entries.dedup_by(|a, b| a.name == b.name);
    entries
}

/// A program name as the cage's `PATH` would find it, if it exists (only under the system
/// directories every cage has).
fn resolve(program: &str) -> Option<String> {
    let system = |p: &Path| {
        ["/usr/", "/bin/", "/sbin/"]
            .iter()
            .any(|d| p.starts_with(d))
    };
    if program.starts_with('/') {
        let p = Path::new(program);
        return (system(p) && p.is_file()).then(|| program.to_string());
    }
    if program.contains('/') {
        return None;
    }
    ["/usr/local/bin", "/usr/bin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &str) {
        std::fs::write(dir.join(name), body).unwrap();
    }

    #[test]
    fn installed_applications_become_argv_entries() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(
            d,
            "shell.desktop",
            "[Desktop Entry]\nType=Application\nName=Shell\nExec=sh -c \"echo hi\" %U\n",
        );
        write(
            d,
            "hidden.desktop",
            "[Desktop Entry]\nType=Application\nName=Hidden\nExec=sh\nNoDisplay=true\n",
        );
        write(
            d,
            "term.desktop",
            "[Desktop Entry]\nType=Application\nName=Top\nExec=top\nTerminal=true\n",
        );
        write(
            d,
            "missing.desktop",
            "[Desktop Entry]\nType=Application\nName=Missing\nExec=no-such-program-here\n",
        );
        write(
            d,
            "gnome.desktop",
            "[Desktop Entry]\nType=Application\nName=Gnomish\nExec=sh\nOnlyShowIn=GNOME;\n",
        );
        write(
            d,
            "link.desktop",
            "[Desktop Entry]\nType=Link\nName=Web\nURL=x\n",
        );
        let entries = installed(d);
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0].name, "Shell");
        assert!(entries[0].argv[0].ends_with("/sh"), "{:?}", entries[0].argv);
        assert_eq!(entries[0].argv[1..], ["-c", "echo hi"]);
        assert!(
            !entries[0].argv.iter().any(|a| a == "%U"),
            "field codes are dropped: {:?}",
            entries[0].argv
        );

        let mut level = cloison_config::Config::builtin().levels[0].clone();
        // A configured "sh" and the installed Shell are one program: listed once.
        level.apps.push(cloison_config::MenuApp {
            name: "My shell".into(),
            command: vec!["sh".into(), "-c".into(), "echo hi".into()],
        });
        let menu_entries = menu(&level, d);
        assert_eq!(menu_entries.len(), 2, "{menu_entries:?}");
        level.apps.pop();
        let menu_entries = menu(&level, d);
        assert_eq!(menu_entries[0].name, "Terminal", "configured apps first");
        assert_eq!(menu_entries[1].name, "Shell");
        level.desktop_entries = false;
        assert_eq!(menu(&level, d).len(), 1);
    }
}

#[cfg(test)]
mod packaging {
    #[test]
    fn the_session_entry_and_the_user_unit_start_cloison_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cloison.desktop");
        std::fs::write(&path, include_str!("../../assets/cloison.desktop")).unwrap();
        let entry =
            freedesktop_desktop_entry::DesktopEntry::from_path(&path, None::<&[&str]>).unwrap();
        assert_eq!(entry.type_(), Some("Application"));
        assert_eq!(entry.parse_exec().unwrap(), ["cloison", "run"]);
        let unit = include_str!("../../assets/cloison.service");
        let exec: Vec<&str> = unit
            .lines()
            .filter_map(|l| l.strip_prefix("ExecStart="))
            .collect();
        assert_eq!(exec, ["/usr/bin/cloison run"]);
        for section in ["[Unit]", "[Service]"] {
            assert!(unit.contains(section), "{section}");
        }
    }
}
