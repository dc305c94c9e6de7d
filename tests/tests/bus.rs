//! Each level's own session bus, with the real `dbus-daemon` and `dbus-send`: started in the
//! level's cage on a socket the launcher made (so it answers from the first moment a program
//! can run), one bus per level, bus activation from the level's own service files, and the
//! host's system bus out of reach.

use cloison_tests::session::{PrivateBus, Session, external, read_when_done};

/// Runs `dbus-send --print-reply ARGS` in `level` (as any program of the level would); its
/// output and exit status.
fn dbus_send(s: &Session, level: &str, name: &str, args: &str) -> String {
    let _ = external("dbus-send");
    s.spawn_in(
        level,
        &[
            "/bin/sh",
            "-c",
            &format!("dbus-send --print-reply {args} > ~/{name} 2>&1; echo \"status $?\" >> ~/{name}; echo done >> ~/{name}"),
        ],
    );
    read_when_done(&s.home(level).join(name))
}

const GET_ID: &str = "--dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.GetId";

#[test]
fn each_level_has_its_own_session_bus_from_its_first_moment() {
    // A bus on the host, named as the system bus in the launcher's environment.
    let dir = tempfile::tempdir().unwrap();
    let host_bus = PrivateBus::start(&dir.path().join("system_bus_socket"));
    let host_address = host_bus.address.clone();
    let s =
        Session::start_default_with(&[], &[("DBUS_SYSTEM_BUS_ADDRESS", &host_address)]).unwrap();

    // Asked at once after the session starts: each level's bus answers, and they are two
    // buses.
    let low = dbus_send(&s, "low", "low-id", &format!("--session {GET_ID}"));
    let high = dbus_send(&s, "high", "high-id", &format!("--session {GET_ID}"));
    assert!(low.ends_with("status 0\n"), "{low}");
    assert!(high.ends_with("status 0\n"), "{high}");
    let id = |reply: &str| {
        reply
            .lines()
            .find(|l| l.contains("string"))
            .unwrap()
            .to_string()
    };
    assert_ne!(id(&low), id(&high), "the levels share a bus");

    // A level's own service files are activated on its bus, by its daemon, in its cage.
    let services = s.home("high").join(".local/share/dbus-1/services");
    std::fs::create_dir_all(&services).unwrap();
    std::fs::write(
        services.join("org.cloison.Probe.service"),
        "[D-BUS Service]\nName=org.cloison.Probe\nExec=/bin/sh -c 'env > /home/user/activated-env; echo activated > /home/user/activated'\n",
    )
    .unwrap();
    let probe = "--session --reply-timeout=2000 --dest=org.cloison.Probe /org/cloison/Probe org.cloison.Probe.Ping";
    // (The program writes its file and exits without taking the name: the call gets no reply,
    // after the activation.)
    dbus_send(&s, "high", "high-probe", probe);
    assert_eq!(
        std::fs::read_to_string(s.home("high").join("activated")).unwrap(),
        "activated\n"
    );
    // The service is told the bus address as the cage sees it (found with Evince: when the
    // launcher bound the socket, the daemon told its services the host's path, and every one
    // that connects back — the accessibility bus, dconf — failed).
    let env = std::fs::read_to_string(s.home("high").join("activated-env")).unwrap();
    for var in ["DBUS_SESSION_BUS_ADDRESS", "DBUS_STARTER_ADDRESS"] {
        assert!(
            env.lines()
                .any(|l| l.starts_with(&format!("{var}=unix:path=/run/user/1000/bus"))),
            "{var}: {env}"
        );
    }
    // The other level's bus has no such service, and nothing ran in low.
    let low_probe = dbus_send(&s, "low", "low-probe", probe);
    assert!(low_probe.contains("ServiceUnknown"), "{low_probe}");
    assert!(!s.home("low").join("activated").exists());

    // The host's buses are out of reach: the system bus the launcher was given is neither
    // named in the level's environment nor reachable by its path, and a bus at an abstract
    // address is out of reach (low's NAT'd namespace is its own; in a level sharing the
    // host's, the cage's abstract-socket scope refuses it: `cages/tests/escape.rs`).
    let abstract_bus = PrivateBus::at(&format!(
        "unix:abstract=cloison-test-{}",
        std::process::id()
    ));
    for (name, args) in [
        ("system", format!("--system {GET_ID}")),
        ("by-path", format!("--bus={host_address} {GET_ID}")),
        (
            "abstract",
            format!("--bus={} {GET_ID}", abstract_bus.address),
        ),
    ] {
        let reply = dbus_send(&s, "low", name, &args);
        assert!(!reply.ends_with("status 0\n"), "{name}: {reply}");
    }
    // The bus socket's descriptor went to the daemon alone, and init's channel to the
    // launcher stays init's: a program of the level inherits no socket.
    s.spawn_in(
        "low",
        &[
            "/bin/bash",
            "-c",
            // (The inner shell makes no redirection of its own: bash keeps a copy of a
            // redirected descriptor at 10 while it applies.)
            "bash -c 'for f in /proc/$$/fd/*; do echo ${f##*/} $(readlink $f); done' > ~/fds; echo done >> ~/fds",
        ],
    );
    let fds = read_when_done(&s.home("low").join("fds"));
    // (Besides 0, 1 and 2: the directory the shell reads the list from.)
    assert!(fds.lines().any(|l| l.starts_with("2 ")), "{fds}");
    assert!(
        !fds.contains("socket:"),
        "a level's program inherited a socket: {fds}"
    );
    s.spawn_in("low", &["/bin/sh", "-c", "env > ~/env; echo done >> ~/env"]);
    let env = read_when_done(&s.home("low").join("env"));
    assert!(!env.contains("DBUS_SYSTEM_BUS_ADDRESS"), "{env}");
    assert!(
        env.contains("DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus"),
        "{env}"
    );
}

/// Real desktop programs on a level's bus: Evince (single instance through its activated
/// `org.gnome.evince.Daemon`, the accessibility bus, settings through dconf) starts in both
/// levels and says nothing about D-Bus; a setting written with `gsettings` in one level
/// (through the dconf service its bus activates, in its cage) is that level's alone.
#[test]
fn evince_and_gsettings_use_their_own_levels_bus_without_errors() {
    let _ = (external("evince"), external("gsettings"));
    let mut s = Session::start(&[]).unwrap();
    for level in ["low", "high"] {
        s.spawn_in(level, &["/bin/sh", "-c", "exec evince 2> ~/evince.err"]);
    }
    s.wait_for("an Evince window in each level", |st| {
        ["low", "high"].iter().all(|level| {
            st.windows
                .iter()
                .any(|w| w.level == *level && w.app_id == "evince")
        })
    })
    .unwrap();
    // What it logs in its first seconds (the daemon's activation, the settings it reads).
    std::thread::sleep(std::time::Duration::from_secs(3));
    for level in ["low", "high"] {
        let err = std::fs::read_to_string(s.home(level).join("evince.err")).unwrap();
        assert!(
            !err.to_lowercase().contains("dbus"),
            "Evince in {level} logged D-Bus errors:\n{err}"
        );
    }

    let set = "gsettings set org.gnome.Evince document-directory \"'/home/user/low-docs'\"";
    s.spawn_in(
        "low",
        &[
            "/bin/sh",
            "-c",
            &format!("{set} > ~/set 2>&1; echo \"status $?\" >> ~/set; echo done >> ~/set"),
        ],
    );
    let out = read_when_done(&s.home("low").join("set"));
    assert!(out.contains("status 0"), "{out}");
    let get = |s: &Session, level: &str| {
        s.spawn_in(
            level,
            &[
                "/bin/sh",
                "-c",
                "gsettings get org.gnome.Evince document-directory > ~/get 2>&1; echo done >> ~/get",
            ],
        );
        read_when_done(&s.home(level).join("get"))
    };
    assert!(get(&s, "low").contains("/home/user/low-docs"));
    assert!(
        !get(&s, "high").contains("low-docs"),
        "high sees low's setting"
    );
    // Written by the dconf service low's bus activated, into low's home.
    assert!(s.home("low").join(".config/dconf/user").is_file());
    assert!(!s.home("high").join(".config/dconf/user").exists());
}
