//! Drives the test guest of `scripts/vm` (Debian 12, two virtio GPUs, virtio keyboard and
//! tablet) from the host: boots it with QEMU, reads its console, sends real keyboard and
//! pointer events and takes screenshots of each display through QMP.
//!
//! The guest runs `cloison-vm-session` (installed by `scripts/vm build`): seatd, `cloison run`
//! on the seat, and once a second a console line `cloison-vm: status UPTIME {json}` with
//! `cloison ctl status`, plus `cloison-vm: file PATH TEXT` for files the test makes the levels
//! write.

use std::io::{BufRead, BufReader, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use cloison_ipc::Status;

use crate::session::Image;

/// Range of the virtio tablet's axes (QEMU's `INPUT_EVENT_ABS_MAX` + 1).
const ABS_RANGE: f64 = 32768.0;

/// A running guest.
pub struct Vm {
    qemu: Child,
    qmp: BufReader<UnixStream>,
    serial: PathBuf,
    dir: tempfile::TempDir,
    /// Size of the whole layout (for absolute pointer positions).
    pub layout: (i32, i32),
    /// Type on the keyboard bound to this display device's console (QEMU's `display`
    /// property of an input device); `None`: the first keyboard.
    pub keyboard_console: Option<String>,
}

/// The guest's image directory (`target/vm`), built by `scripts/vm build`.
pub fn vm_dir() -> PathBuf {
    let mut dir = crate::session::bin_dir();
    // target/debug -> target
    dir.pop();
    dir.join("vm")
}

impl Vm {
    /// Boots the guest (changes go to a throw-away overlay) with `command` as what its init
    /// runs, and waits for its init to start. A guest kernel that dies before that (emulated
    /// without KVM, the guest's kernel has been seen to oops in its early initcalls, which
    /// nothing of Cloison runs in) is booted again, twice at most.
    pub fn boot(command: &str) -> anyhow::Result<Vm> {
        let mut failed = Vec::new();
        for attempt in 1..=BOOT_ATTEMPTS {
            let mut vm = Self::boot_once(command)?;
            match vm.wait_up(BOOT_TIMEOUT) {
                Ok(()) => return Ok(vm),
                Err(err) => {
                    let _ = writeln!(
                        std::io::stderr(),
                        "the guest did not reach its init (boot {attempt} of {BOOT_ATTEMPTS}): {err:#}"
                    );
                    failed.push(err);
                }
            }
        }
        Err(failed
            .pop()
            .unwrap_or_else(|| anyhow::anyhow!("the guest never booted")))
    }

    /// Waits for the guest's init to say it is up (its first console line).
    fn wait_up(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let console = self.console();
            // (The first line may carry the firmware's terminal resets before it.)
            if console
                .lines()
                .any(|l| l.trim_end().ends_with("cloison-vm: up"))
            {
                return Ok(());
            }
            if let Ok(Some(exit)) = self.qemu.try_wait() {
                bail!(
                    "the guest stopped ({exit}) while booting:\n{}",
                    tail(&console)
                );
            }
            if Instant::now() > deadline {
                bail!("the guest did not boot in {timeout:?}:\n{}", tail(&console));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn boot_once(command: &str) -> anyhow::Result<Vm> {
        let images = vm_dir();
        let image = images.join("rootfs.img");
        anyhow::ensure!(
            image.is_file(),
            "{} is missing: `scripts/vm test` builds the guest first",
            image.display()
        );
        let newest = |prefix: &str| -> anyhow::Result<PathBuf> {
            let mut found: Vec<PathBuf> = std::fs::read_dir(images.join("rootfs/boot"))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
                })
                .collect();
            found.sort();
            found
                .pop()
                .with_context(|| format!("no {prefix}* in the guest"))
        };
        let kernel = newest("vmlinuz-")?;
        let initrd = newest("initrd.img-")?;
        let dir = tempfile::tempdir()?;
        let qmp_path = dir.path().join("qmp.sock");
        let serial = dir.path().join("serial.log");
        let accel = std::env::var("CLOISON_VM_ACCEL").unwrap_or_else(|_| "tcg,thread=multi".into());
        let cmd = base64::engine::general_purpose::STANDARD.encode(command);
        let qemu = Command::new("qemu-system-x86_64")
            .args(["-accel", &accel, "-m", "2048", "-smp", "2"])
            .args(["-nographic", "-no-reboot", "-vga", "none", "-display", "none"])
            .arg("-kernel")
            .arg(&kernel)
            .arg("-initrd")
            .arg(&initrd)
            .arg("-append")
            .arg(format!(
                "root=/dev/vda rw console=ttyS0 quiet panic=-1 init=/sbin/cloison-vm-init cloison.cmd={cmd}"
            ))
            .arg("-drive")
            .arg(format!("file={},format=raw,if=virtio", image.display()))
            .arg("-snapshot")
            .args(["-device", "virtio-gpu-pci,id=gpu0"])
            .args(["-device", "virtio-gpu-pci,id=gpu1"])
            .args(["-device", "virtio-keyboard-pci", "-device", "virtio-tablet-pci"])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp_path.display()))
            .arg("-serial")
            .arg(format!("file:{}", serial.display()))
            // ttyS1: commands for the guest's root shell (see `guest`).
            .arg("-chardev")
            .arg(format!(
                "socket,id=cmd,path={},server=on,wait=off",
                dir.path().join("cmd.sock").display()
            ))
            .args(["-device", "isa-serial,chardev=cmd"])
            .args(["-monitor", "none"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start qemu-system-x86_64 (`scripts/vm build` installs it)")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let stream = loop {
            match UnixStream::connect(&qmp_path) {
                Ok(stream) => break stream,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(err) => return Err(err).context("QEMU's QMP socket never answered"),
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut vm = Vm {
            qemu,
            qmp: BufReader::new(stream),
            serial,
            dir,
            layout: (0, 0),
            keyboard_console: None,
        };
        let mut greeting = String::new();
        vm.qmp.read_line(&mut greeting)?;
        vm.qmp_command(serde_json::json!({"execute": "qmp_capabilities"}))?;
        Ok(vm)
    }

    /// Sends one QMP command; returns its `return` value.
    pub fn qmp_command(&mut self, command: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let mut line = command.to_string();
        line.push('\n');
        self.qmp.get_mut().write_all(line.as_bytes())?;
        loop {
            let mut reply = String::new();
            if self.qmp.read_line(&mut reply)? == 0 {
                bail!("QEMU closed QMP");
            }
            let value: serde_json::Value = serde_json::from_str(&reply)?;
            if value.get("event").is_some() {
                continue;
            }
            if let Some(err) = value.get("error") {
                bail!("QMP {command}: {err}");
            }
            return Ok(value.get("return").cloned().unwrap_or_default());
        }
    }

    /// The guest console so far, escape sequences removed.
    pub fn console(&self) -> String {
        let bytes = std::fs::read(&self.serial).unwrap_or_default();
        String::from_utf8_lossy(&bytes).replace('\r', "")
    }

    /// The last status line: (guest uptime in seconds, status).
    pub fn status(&self) -> Option<(f64, Status)> {
        self.console().lines().rev().find_map(|line| {
            let rest = line.strip_prefix("cloison-vm: status ")?;
            let (time, json) = rest.split_once(' ')?;
            Some((time.parse().ok()?, serde_json::from_str(json).ok()?))
        })
    }

    /// Waits until a status line satisfies `pred` (the guest is slow under TCG: long timeout).
    pub fn wait_status(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pred: impl FnMut(&Status) -> bool,
    ) -> anyhow::Result<(f64, Status)> {
        let deadline = Instant::now() + timeout;
        let mut seen = 0;
        loop {
            let console = self.console();
            // Only lines after those already looked at, so a time is when it first held.
            let lines: Vec<&str> = console.lines().collect();
            for line in &lines[seen.min(lines.len())..] {
                if let Some(rest) = line.strip_prefix("cloison-vm: status ")
                    && let Some((time, json)) = rest.split_once(' ')
                    && let (Ok(time), Ok(status)) =
                        (time.parse::<f64>(), serde_json::from_str::<Status>(json))
                    && pred(&status)
                {
                    return Ok((time, status));
                }
            }
            seen = lines.len();
            if let Ok(Some(exit)) = self.qemu.try_wait() {
                bail!(
                    "the guest stopped ({exit}) before {what}:\n{}",
                    tail(&console)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "timed out waiting for {what}; guest console:\n{}",
                    tail(&console)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits for a console line starting with `prefix` and containing `needle`; returns the
    /// rest of it.
    pub fn wait_line(
        &mut self,
        prefix: &str,
        needle: &str,
        timeout: Duration,
    ) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let console = self.console();
            if let Some(rest) = console
                .lines()
                .filter_map(|l| l.strip_prefix(prefix))
                .find(|rest| rest.contains(needle))
            {
                return Ok(rest.to_string());
            }
            if Instant::now() > deadline {
                bail!(
                    "timed out waiting for {prefix:?}; guest console:\n{}",
                    tail(&console)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// What display device `device` (a QEMU device id: `gpu0`, `gpu1`) shows now.
    pub fn screendump(&mut self, device: &str) -> anyhow::Result<Image> {
        let file = self.dir.path().join(format!("{device}.ppm"));
        let _ = std::fs::remove_file(&file);
        self.qmp_command(serde_json::json!({
            "execute": "screendump",
            "arguments": {"filename": file.to_string_lossy(), "device": device},
        }))?;
        let image = read_ppm(&file)?;
        // The last screen of each display stays for a person to look at.
        let _ = image.save_png(&vm_dir().join(format!("last-{device}.png")));
        Ok(image)
    }

    /// Screendumps of `device` until one satisfies `pred` (a display is updated a frame or
    /// two after the state that asks for it), or the last one after 20 s.
    pub fn screen_until(
        &mut self,
        device: &str,
        mut pred: impl FnMut(&Image) -> bool,
    ) -> anyhow::Result<Image> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let shot = self.screendump(device)?;
            if pred(&shot) || Instant::now() > deadline {
                return Ok(shot);
            }
            std::thread::sleep(Duration::from_millis(400));
        }
    }

    /// Presses or releases keys, by QEMU key code (`a`, `shift`, `ret`, `ctrl`…).
    pub fn keys(&mut self, keys: &[&str], down: bool) -> anyhow::Result<()> {
        let events: Vec<serde_json::Value> = keys
            .iter()
            .map(|k| {
                serde_json::json!({"type": "key", "data": {
                    "down": down, "key": {"type": "qcode", "data": k}}})
            })
            .collect();
        let mut arguments = serde_json::json!({"events": events});
        if let Some(device) = &self.keyboard_console {
            arguments["device"] = device.clone().into();
        }
        self.qmp_command(serde_json::json!({
            "execute": "input-send-event", "arguments": arguments}))?;
        Ok(())
    }

    /// A chord: every key pressed in order, released in reverse.
    pub fn chord(&mut self, keys: &[&str]) -> anyhow::Result<()> {
        for key in keys {
            self.keys(&[key], true)?;
        }
        for key in keys.iter().rev() {
            self.keys(&[key], false)?;
        }
        // Let the guest take it in before the next one (it is slow under TCG).
        std::thread::sleep(Duration::from_millis(150));
        Ok(())
    }

    /// Types `text` (US layout) on the virtio keyboard.
    pub fn type_text(&mut self, text: &str) -> anyhow::Result<()> {
        for c in text.chars() {
            let (key, shift) = qcode(c).with_context(|| format!("cannot type {c:?}"))?;
            if shift {
                self.chord(&["shift", key])?;
            } else {
                self.chord(&[key])?;
            }
        }
        Ok(())
    }

    /// Moves the tablet's pointer to (x, y) of the layout and clicks the left button.
    pub fn click(&mut self, x: i32, y: i32) -> anyhow::Result<()> {
        let (w, h) = self.layout;
        anyhow::ensure!(w > 0 && h > 0, "the layout size is not known yet");
        let abs = |v: i32, size: i32| ((v as f64 + 0.5) * ABS_RANGE / size as f64) as i64;
        self.qmp_command(
            serde_json::json!({"execute": "input-send-event", "arguments": {"events": [
                {"type": "abs", "data": {"axis": "x", "value": abs(x, w)}},
                {"type": "abs", "data": {"axis": "y", "value": abs(y, h)}},
            ]}}),
        )?;
        std::thread::sleep(Duration::from_millis(200));
        for down in [true, false] {
            self.qmp_command(
                serde_json::json!({"execute": "input-send-event", "arguments": {"events": [
                    {"type": "btn", "data": {"down": down, "button": "left"}},
                ]}}),
            )?;
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Runs a shell command as root in the guest (its second serial port; nothing comes
    /// back: its effects show on the console or the displays).
    pub fn guest(&mut self, command: &str) -> anyhow::Result<()> {
        anyhow::ensure!(!command.contains('\n'), "one line only");
        let mut stream = UnixStream::connect(self.dir.path().join("cmd.sock"))
            .context("the guest's command port")?;
        stream.write_all(format!("{command}\n").as_bytes())?;
        // Stay connected until the guest has read it.
        std::thread::sleep(Duration::from_millis(500));
        Ok(())
    }

    /// Plugs a device in (QMP `device_add`), e.g. `{"driver": "virtio-gpu-pci", "id": "gpu2"}`.
    pub fn plug(&mut self, device: serde_json::Value) -> anyhow::Result<()> {
        self.qmp_command(serde_json::json!({"execute": "device_add", "arguments": device}))?;
        Ok(())
    }

    /// Unplugs a device (QMP `device_del`; the guest finishes it through ACPI).
    pub fn unplug(&mut self, id: &str) -> anyhow::Result<()> {
        self.qmp_command(serde_json::json!({"execute": "device_del", "arguments": {"id": id}}))?;
        Ok(())
    }

    /// Powers the guest off.
    pub fn quit(mut self) {
        let _ = self.qmp_command(serde_json::json!({"execute": "quit"}));
        let _ = self.qemu.wait();
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
    }
}

/// Boots tried before a guest that does not reach its init is a failure.
const BOOT_ATTEMPTS: usize = 3;
/// How long a boot may take to reach the guest's init (emulated: usually under 20 s).
const BOOT_TIMEOUT: Duration = Duration::from_secs(180);

fn tail(console: &str) -> String {
    let lines: Vec<&str> = console
        .lines()
        .filter(|l| !l.starts_with("cloison-vm: status "))
        .collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// QEMU key code (and whether Shift is needed) for a character on a US keyboard.
fn qcode(c: char) -> Option<(&'static str, bool)> {
    // QEMU names letter and digit keys by the character itself.
    const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
    const DIGITS: &str = "0123456789";
    if let Some(i) = LOWER.find(c.to_ascii_lowercase()) {
        return Some((&LOWER[i..=i], c.is_ascii_uppercase()));
    }
    if let Some(i) = DIGITS.find(c) {
        return Some((&DIGITS[i..=i], false));
    }
    Some(match c {
        ' ' => ("spc", false),
        '\n' => ("ret", false),
        '-' => ("minus", false),
        '_' => ("minus", true),
        '.' => ("dot", false),
        '>' => ("dot", true),
        '/' => ("slash", false),
        '|' => ("backslash", true),
        '~' => ("grave_accent", true),
        '=' => ("equal", false),
        '\'' => ("apostrophe", false),
        '"' => ("apostrophe", true),
        ';' => ("semicolon", false),
        _ => return None,
    })
}

/// Reads a binary PPM (P6, 8 bits) as RGBA.
fn read_ppm(path: &Path) -> anyhow::Result<Image> {
    let bytes =
        std::fs::read(path).with_context(|| format!("no screendump at {}", path.display()))?;
    // Header: "P6" WS width WS height WS maxval, one whitespace byte, then RGB.
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        anyhow::ensure!(start < i, "truncated PPM header");
        fields.push(String::from_utf8_lossy(&bytes[start..i]).into_owned());
    }
    anyhow::ensure!(
        fields[0] == "P6" && fields[3] == "255",
        "not an 8-bit P6 PPM"
    );
    let (width, height): (u32, u32) = (fields[1].parse()?, fields[2].parse()?);
    let rgb = &bytes[i + 1..];
    anyhow::ensure!(
        rgb.len() >= (width * height * 3) as usize,
        "truncated PPM data"
    );
    let rgba = rgb[..(width * height * 3) as usize]
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect();
    Ok(Image {
        width,
        height,
        rgba,
    })
}
