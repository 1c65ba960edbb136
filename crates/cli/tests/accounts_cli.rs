//! `vigil init`, `vigil users …` and `vigil serve` on a fresh directory, as
//! a force's administrator would script them.

use assert_cmd::Command;

fn vigil(dir: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("vigil").unwrap();
    c.arg("--data-dir")
        .arg(dir)
        .env("VIGIL_LOG", "error")
        .env_remove("DATABASE_URL")
        .env_remove("VIGIL_MASTER_KEY")
        .env_remove("VIGIL_ADMIN_PASSWORD");
    c
}

fn stdout(c: &mut Command) -> String {
    String::from_utf8(c.assert().success().get_output().stdout.clone()).unwrap()
}

#[test]
fn serve_refuses_a_directory_that_was_never_initialised() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = vigil(&data)
        .args(["serve", "--port", "0"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&out);
    assert!(
        err.contains("not an initialised Vigil installation"),
        "{err}"
    );
    assert!(err.contains("init"), "says how: {err}");
    assert!(!data.join("vigil.db").exists(), "nothing created");
}

#[cfg(unix)]
#[test]
fn init_creates_one_first_administrator_with_a_one_time_password() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = stdout(vigil(&data).args(["init", "--admin", "chief"]));
    assert!(out.contains("first Administrator: chief"), "{out}");
    let otp = out
        .split("one-time password: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    assert_eq!(otp.len(), 23, "{otp}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("vigil.db")), 0o600);
    assert_eq!(mode(&data.join("master.key")), 0o600);
    // Again: nothing changes, and no second first Administrator.
    let again = stdout(vigil(&data).args(["init", "--admin", "other"]));
    assert!(
        again.contains("already initialised") && again.contains("chief"),
        "{again}"
    );
    assert!(!again.contains("one-time password"));
    let list = stdout(vigil(&data).args(["users", "list"]));
    let accounts: Vec<serde_json::Value> = list
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(accounts.len(), 1, "{list}");
    assert_eq!(accounts[0]["id"], "chief");
    assert_eq!(accounts[0]["must_change_password"], true);
    assert!(
        !list.contains(&otp) && !list.contains("argon2"),
        "no secrets listed"
    );
}

#[test]
fn init_takes_the_password_from_the_environment_when_given() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout(
        vigil(dir.path())
            .env("VIGIL_ADMIN_PASSWORD", "given-by-the-force-vault")
            .args(["init"]),
    );
    assert!(
        !out.contains("given-by-the-force-vault"),
        "never printed: {out}"
    );
    assert!(out.contains("VIGIL_ADMIN_PASSWORD"), "{out}");
}

#[test]
fn users_are_added_disabled_enabled_and_reset_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    stdout(vigil(dir.path()).args(["init"]));
    let out = stdout(vigil(dir.path()).args([
        "users",
        "add",
        "pc-lee",
        "--display-name",
        "PC Lee",
        "--rank",
        "Constable",
        "--reason",
        "new starter",
    ]));
    assert!(
        out.contains("pc-lee") && out.contains("one-time password"),
        "{out}"
    );
    stdout(vigil(dir.path()).args([
        "users",
        "add",
        "dc-roy",
        "--display-name",
        "DC Roy",
        "--rank",
        "Constable",
        "--role",
        "Investigator",
        "--reason",
        "case team",
    ]));
    // A duplicate name, an unknown user, a bad rank, a Deployment role: clear errors.
    for (args, says) in [
        (
            vec![
                "users",
                "add",
                "pc-lee",
                "--display-name",
                "X",
                "--reason",
                "again",
            ],
            "already exists",
        ),
        (
            vec!["users", "disable", "nobody", "--reason", "x"],
            "user nobody not found",
        ),
        (
            vec![
                "users",
                "add",
                "x1",
                "--display-name",
                "X",
                "--rank",
                "General",
                "--reason",
                "x",
            ],
            "not a rank",
        ),
        (
            vec![
                "users",
                "add",
                "x2",
                "--display-name",
                "X",
                "--role",
                "Operator",
                "--reason",
                "x",
            ],
            "by assignment",
        ),
        (
            vec!["users", "disable", "pc-lee", "--reason", " "],
            "reason is required",
        ),
    ] {
        let out = vigil(dir.path())
            .args(&args)
            .assert()
            .code(2)
            .get_output()
            .stderr
            .clone();
        let err = String::from_utf8_lossy(&out);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    stdout(vigil(dir.path()).args(["users", "disable", "pc-lee", "--reason", "left"]));
    let list = stdout(vigil(dir.path()).args(["users", "list"]));
    let lee = list
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|a| a["id"] == "pc-lee")
        .unwrap();
    assert!(lee["disabled"].is_i64(), "{lee}");
    stdout(vigil(dir.path()).args(["users", "enable", "pc-lee", "--reason", "returned"]));
    let out =
        stdout(vigil(dir.path()).args(["users", "reset-password", "dc-roy", "--reason", "forgot"]));
    assert!(out.contains("one-time password"), "{out}");
    stdout(vigil(dir.path()).args([
        "users",
        "reset-second-factor",
        "dc-roy",
        "--reason",
        "lost phone",
    ]));
    let audit = stdout(vigil(dir.path()).args(["audit", "list", "--limit", "1000"]));
    for (action, detail) in [
        ("user.create", "new starter"),
        ("user.disable", "left"),
        ("user.enable", "returned"),
        ("user.password.reset", "forgot"),
        ("user.totp.reset", "lost phone"),
    ] {
        assert!(
            audit
                .lines()
                .any(|l| l.contains(&format!("\"action\":\"{action}\"")) && l.contains(detail)),
            "{action}: {audit}"
        );
    }
    stdout(vigil(dir.path()).args(["audit", "verify"]));
}

/// One HTTP/1.1 request to 127.0.0.1:`port`; (status, headers, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: Option<&str>,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let body = body.unwrap_or("");
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n{cookie}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, rest) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_string(), rest.to_string())
}

struct Server(std::process::Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &std::path::Path, port: u16) -> Server {
    let bin = assert_cmd::cargo::cargo_bin("vigil");
    let child = std::process::Command::new(bin)
        .arg("--data-dir")
        .arg(dir)
        .args(["--provider", "cpu", "serve", "--port", &port.to_string()])
        .env("VIGIL_LOG", "error")
        .env_remove("DATABASE_URL")
        .env_remove("VIGIL_MASTER_KEY")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    for _ in 0..600 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("vigil serve did not start");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The real binary: `vigil init`, `vigil serve` (second factor on by
/// default), the first login changes the password and enrols TOTP, and the
/// session survives a restart of the server process.
#[test]
fn init_then_serve_first_login_and_a_restart_keeps_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout(vigil(dir.path()).args(["init", "--admin", "chief"]));
    let otp = out
        .split("one-time password: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .to_string();
    let port = free_port();
    let server = start(dir.path(), port);
    let login = |body: serde_json::Value| {
        http(port, "POST", "/api/v1/login", None, Some(&body.to_string()))
    };
    let (st, _, b) = login(serde_json::json!({"user": "chief", "password": otp}));
    assert_eq!(st, 403, "{b}");
    assert!(b.contains("password_change_required"), "{b}");
    let new = "harbour-violet-lantern-77";
    let (st, _, b) =
        login(serde_json::json!({"user": "chief", "password": otp, "new_password": new}));
    assert_eq!(st, 403, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(
        v["error"]["code"], "totp_enrolment_required",
        "second factor on by default"
    );
    let secret = totp_rs::Secret::Encoded(v["enrolment"]["secret"].as_str().unwrap().into())
        .to_bytes()
        .unwrap();
    let code = totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret,
        Some("Vigil".into()),
        "chief".into(),
    )
    .unwrap()
    .generate_current()
    .unwrap();
    let (st, head, b) = login(
        serde_json::json!({"user": "chief", "password": otp, "new_password": new, "totp": code}),
    );
    assert_eq!(st, 200, "{b}");
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let (st, _, b) = http(port, "GET", "/api/v1/me", Some(&cookie), None);
    assert_eq!(st, 200, "{b}");
    drop(server);
    let port2 = free_port();
    let _server = start(dir.path(), port2);
    let (st, _, b) = http(port2, "GET", "/api/v1/me", Some(&cookie), None);
    assert_eq!(st, 200, "the session survives a restart: {b}");
    assert!(b.contains("chief"));
}

/// A force that moves the master key into its key management and forgets
/// to supply it gets a clear refusal, never a fresh key that would make
/// everything sealed unreadable.
#[test]
fn a_database_without_its_master_key_is_refused_not_rekeyed() {
    let dir = tempfile::tempdir().unwrap();
    stdout(vigil(dir.path()).args(["init"]));
    let key = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
    std::fs::remove_file(dir.path().join("master.key")).unwrap();
    let out = vigil(dir.path())
        .args(["users", "list"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&out);
    assert!(
        err.contains("no master key") && err.contains("VIGIL_MASTER_KEY"),
        "{err}"
    );
    assert!(!dir.path().join("master.key").exists(), "no new key made");
    // With the key from outside, it works and the audit chain verifies.
    stdout(
        vigil(dir.path())
            .env("VIGIL_MASTER_KEY", key.trim())
            .args(["audit", "verify"]),
    );
}
