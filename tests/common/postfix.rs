//! A private Postfix instance for interop tests.
//!
//! [`Postfix::start`] writes a main.cf and master.cf into a fresh temporary
//! directory, with its own queue, an SMTP listener on a free loopback port,
//! DNS lookups off and no local delivery (`mydestination` is empty), and
//! starts its master daemon. The system's own Postfix, if any, is not
//! touched. Drop stops the instance.
//!
//! Postfix's master runs as root and drops privileges to the `postfix` user,
//! so these tests need root and Debian's postfix package. `tests/run`
//! installs the package without configuring the system instance.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use super::{free_port_pair, port_accepts};

/// Maximum time for Postfix's master to accept on its SMTP port.
pub const POSTFIX_START_TIMEOUT_MS: u64 = 20_000;

/// Returns why Postfix cannot run here, or `None` when it can.
pub fn unavailable_reason() -> Option<String> {
    if unsafe { libc::geteuid() } != 0 {
        return Some("the private Postfix needs root".to_string());
    }
    if !Path::new("/usr/sbin/postfix").exists() {
        return Some(
            "Debian's postfix package is not installed (tests/run installs it)".to_string(),
        );
    }
    None
}

/// One running private Postfix.
pub struct Postfix {
    dir: tempfile::TempDir,
    /// Loopback port of its SMTP server.
    pub smtp_port: u16,
}

impl Postfix {
    /// Starts Postfix with the base settings plus `main_cf_extra` lines.
    pub fn start(main_cf_extra: &str) -> Postfix {
        if let Some(reason) = unavailable_reason() {
            panic!("cannot start the private Postfix: {reason}");
        }
        let dir = tempfile::Builder::new()
            .prefix("ringmail-postfix-")
            .tempdir()
            .expect("create a temp dir for Postfix");
        let root = dir.path();
        for sub in ["etc", "spool", "data"] {
            fs::create_dir_all(root.join(sub)).expect("create a Postfix directory");
        }
        chown_to_postfix(&root.join("data"));
        // The postfix user must reach the queue below the temp dir.
        set_mode(root, 0o755);

        let (smtp_port, _) = free_port_pair();
        fs::write(root.join("etc/main.cf"), main_cf(root, main_cf_extra)).expect("write main.cf");
        fs::write(root.join("etc/master.cf"), master_cf(smtp_port)).expect("write master.cf");

        let postfix = Postfix { dir, smtp_port };
        postfix.run(&["set-permissions"], false);
        postfix.run(&["check"], true);
        postfix.run(&["start"], true);

        let deadline = Instant::now() + Duration::from_millis(POSTFIX_START_TIMEOUT_MS);
        while !port_accepts(smtp_port) {
            assert!(
                Instant::now() < deadline,
                "Postfix did not accept on 127.0.0.1:{smtp_port} within {POSTFIX_START_TIMEOUT_MS} ms; log:\n{}",
                postfix.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
        postfix
    }

    /// Returns the configuration directory, for `postfix -c`.
    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("etc")
    }

    /// Returns the text of its mail log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// Waits until the mail log contains `needle`, returning the log.
    pub fn wait_log(&self, needle: &str, timeout_ms: u64) -> Option<String> {
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        loop {
            let log = self.log();
            if log.contains(needle) {
                return Some(log);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn run(&self, args: &[&str], must_succeed: bool) {
        let output = Command::new("/usr/sbin/postfix")
            .arg("-c")
            .arg(self.config_dir())
            .args(args)
            .output()
            .expect("run postfix");
        if must_succeed {
            assert!(
                output.status.success(),
                "postfix {args:?} failed with {}: {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
            );
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("--- private Postfix log ---\n{}", super::tail(&self.log()));
        }
        self.run(&["stop"], false);
    }
}

fn main_cf(root: &Path, extra: &str) -> String {
    let root = root.display();
    format!(
        "compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix-interop.test
mydomain = postfix-interop.test
myorigin = postfix-interop.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
biff = no
maillog_file_prefixes = {root}
maillog_file = {root}/maillog
{extra}
"
    )
}

/// Debian's master.cf with the SMTP server on `port` and every service out of
/// the chroot, which this private queue does not have.
fn master_cf(port: u16) -> String {
    let dist = fs::read_to_string("/usr/share/postfix/master.cf.dist")
        .expect("read /usr/share/postfix/master.cf.dist");
    let mut out = String::with_capacity(dist.len());
    for line in dist.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let is_service = !line.starts_with('#') && !line.starts_with(' ') && fields.len() >= 8;
        if is_service && fields[0] == "smtp" && fields[1] == "inet" {
            out.push_str(&format!("127.0.0.1:{port} inet n - n - - smtpd\n"));
        } else if is_service && fields[4] == "y" {
            let mut fields = fields.clone();
            fields[4] = "n";
            out.push_str(&fields.join(" "));
            out.push('\n');
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn chown_to_postfix(path: &Path) {
    let status = Command::new("chown")
        .arg("postfix")
        .arg(path)
        .status()
        .expect("run chown");
    assert!(status.success(), "chown postfix {} failed", path.display());
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}
