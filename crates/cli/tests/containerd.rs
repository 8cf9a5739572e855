//! A real container runtime drives the plugin: a private containerd (its own root, state and
//! socket in a temporary directory), an offline busybox image, and `ctr run --cni` on a lab node.
//! The container gets an address from the cluster's pod network, reaches a lab pod on the other
//! node, and when it is killed ctr's CNI DEL gives everything back.
//!
//! ctr has no flags for its CNI directories: it reads the first config in /etc/cni/net.d and
//! finds plugins in /opt/cni/bin. The test installs its conflist and the plugin there, records
//! what already existed, refuses to overwrite what is not its own, removes exactly what it
//! created, and holds a lock so that two runs never share those paths.
//!
//! Needs the Debian packages containerd and runc, and a static busybox (busybox-static, or the
//! .deb fetched with `apt-get download busybox-static`).

mod lab_harness;

use std::fs::{self, File};
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lab_harness::{Lab, text};
use serde_json::{Value, json};

const LOCK: &str = "/run/weft-containerd-test.lock";
const CNI_BIN: &str = "/opt/cni/bin";
const CNI_CONF: &str = "/etc/cni/net.d";
const PLUGIN: &str = "/opt/cni/bin/weft";
/// Made at run time by the shim (`/run/containerd/s`, hard-coded) and by libcni's result cache.
const RUNTIME_DIRS: [&str; 2] = ["/run/containerd", "/var/lib/cni"];
const CTR_NAMESPACE: &str = "weft-test";
const IMAGE: &str = "localhost/weft-test/busybox:latest";
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(what: &str) -> String {
    format!(
        "{what}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

#[track_caller]
fn ok(command: &mut Command) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn eventually(what: &str, timeout: Duration, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !probe() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Sends `signal` to a process we started, by its PID.
fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .output();
}

/// Waits for a child of ours; false if it is still running at the deadline.
fn wait_for(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An exclusive lock on [`LOCK`] for the whole test: the system paths are shared.
struct SystemLock(#[allow(dead_code)] File);

impl SystemLock {
    fn take() -> SystemLock {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(LOCK)
            .unwrap_or_else(|e| panic!("opening {LOCK}: {e}"));
        file.lock().unwrap_or_else(|e| panic!("locking {LOCK}: {e}"));
        SystemLock(file)
    }
}

/// The system paths the test touches: what it created (removed on drop, newest first, and
/// directories only when empty), and the runtime's own directories that did not exist before
/// (their empty subdirectories are removed on drop).
#[derive(Default)]
struct SystemPaths {
    created: Vec<PathBuf>,
    runtime_dirs: Vec<PathBuf>,
}

impl SystemPaths {
    fn new() -> SystemPaths {
        let mut paths = SystemPaths::default();
        for dir in RUNTIME_DIRS {
            if fs::symlink_metadata(dir).is_err() {
                paths.runtime_dirs.push(PathBuf::from(dir));
            }
        }
        paths
    }

    fn dir(&mut self, path: &str) {
        if fs::symlink_metadata(path).is_err() {
            fs::create_dir(path).unwrap_or_else(|e| panic!("creating {path}: {e}"));
            self.created.push(PathBuf::from(path));
        }
    }

    /// Writes a file that must not exist yet.
    fn file(&mut self, path: &Path, contents: &[u8], mode: u32) {
        use std::io::Write;
        let mut f = File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        self.created.push(path.to_path_buf());
        f.write_all(contents)
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// Removes the empty directories under `dir`, and `dir` itself if it ends up empty.
fn prune_empty(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                prune_empty(&entry.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}

impl Drop for SystemPaths {
    fn drop(&mut self) {
        for path in self.created.iter().rev() {
            let is_dir = fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
            let result = if is_dir {
                fs::remove_dir(path)
            } else {
                fs::remove_file(path)
            };
            if let Err(e) = result {
                eprintln!("cannot remove {} (created by this test): {e}", path.display());
            }
        }
        for dir in &self.runtime_dirs {
            prune_empty(dir);
        }
    }
}

/// Whether `path` is an ELF executable without an interpreter (PT_INTERP): a static binary.
fn is_static_elf(path: &Path) -> bool {
    let Ok(b) = fs::read(path) else {
        return false;
    };
    // 64-bit little-endian ELF only; anything else goes the .deb way.
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 || b[5] != 1 {
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).all(|i| {
        let o = phoff + i * size;
        b.get(o..o + 4)
            .is_some_and(|t| u32::from_le_bytes(t.try_into().unwrap()) != 3)
    })
}

/// A static busybox: /bin/busybox if it is one, else the busybox-static .deb's.
fn static_busybox(dir: &Path) -> PathBuf {
    let system = Path::new("/bin/busybox");
    if is_static_elf(system) {
        return system.to_path_buf();
    }
    let debs = dir.join("deb");
    fs::create_dir_all(&debs).unwrap();
    let out = Command::new("apt-get")
        .args(["download", "busybox-static"])
        .current_dir(&debs)
        .output();
    let deb = fs::read_dir(&debs)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"));
    let Some(deb) = deb else {
        panic!(
            "this test needs a static busybox for its container image: install busybox-static \
             (apt-get install busybox-static), or let `apt-get download busybox-static` work \
             ({:?})",
            out.map(|o| text(&o.stderr))
        );
    };
    let root = dir.join("deb-root");
    ok(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    let bb = root.join("bin/busybox");
    assert!(is_static_elf(&bb), "{} is not a static binary", bb.display());
    bb
}

fn sha256(path: &Path) -> String {
    ok(Command::new("sha256sum").arg(path))
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Moves `file` into the OCI layout's blobs; returns (digest, size).
fn blob(oci: &Path, file: &Path) -> (String, u64) {
    let digest = sha256(file);
    let size = fs::metadata(file).unwrap().len();
    fs::rename(file, oci.join("blobs/sha256").join(&digest)).unwrap();
    (format!("sha256:{digest}"), size)
}

fn json_blob(oci: &Path, scratch: &Path, value: &Value) -> (String, u64) {
    let file = scratch.join("blob.json");
    fs::write(&file, value.to_string()).unwrap();
    blob(oci, &file)
}

/// An OCI image layout tarball of a busybox root filesystem, one uncompressed layer.
fn busybox_image(dir: &Path) -> PathBuf {
    let busybox = static_busybox(dir);
    let rootfs = dir.join("rootfs");
    for d in ["bin", "dev", "proc", "sys", "etc", "tmp", "run"] {
        fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    let bb = rootfs.join("bin/busybox");
    fs::copy(&busybox, &bb).unwrap();
    fs::set_permissions(&bb, fs::Permissions::from_mode(0o755)).unwrap();
    for applet in ok(Command::new(&bb).arg("--list")).split_whitespace() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
    }
    fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n").unwrap();
    fs::write(rootfs.join("etc/group"), "root:x:0:\n").unwrap();
    let oci = dir.join("oci");
    fs::create_dir_all(oci.join("blobs/sha256")).unwrap();
    let layer = dir.join("layer.tar");
    ok(Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
        .arg(&rootfs)
        .arg("-cf")
        .arg(&layer)
        .arg("."));
    // Uncompressed, so the layer's digest is also its diff id.
    let (layer_digest, layer_size) = blob(&oci, &layer);
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let (config_digest, config_size) = json_blob(
        &oci,
        dir,
        &json!({
            "architecture": arch,
            "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        }),
    );
    let (manifest_digest, manifest_size) = json_blob(
        &oci,
        dir,
        &json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config_size,
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": layer_digest,
                "size": layer_size,
            }],
        }),
    );
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": {
                "io.containerd.image.name": IMAGE,
                "org.opencontainers.image.ref.name": "latest",
            },
        }],
    });
    fs::write(oci.join("index.json"), index.to_string()).unwrap();
    fs::write(oci.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let image = dir.join("image.tar");
    ok(Command::new("tar")
        .arg("-C")
        .arg(&oci)
        .arg("-cf")
        .arg(&image)
        .args(["oci-layout", "index.json", "blobs"]));
    image
}

/// A private containerd: root, state, sockets, fifos and runc state in a temporary directory;
/// no CRI plugin (it would read /etc/cni/net.d itself). Stopped, by its PID, on drop.
struct Containerd {
    dir: tempfile::TempDir,
    child: Child,
}

impl Containerd {
    fn start() -> Containerd {
        let dir = tempfile::Builder::new()
            .prefix("weft-ctrd-")
            .tempdir()
            .expect("tempdir");
        let d = dir.path();
        for sub in ["fifo", "runc"] {
            fs::create_dir_all(d.join(sub)).unwrap();
        }
        let config = format!(
            r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
"#,
            root = d.join("root").display(),
            state = d.join("state").display(),
            sock = d.join("containerd.sock").display(),
            opt = d.join("opt").display(),
        );
        fs::write(d.join("config.toml"), config).unwrap();
        let log = File::create(d.join("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .env("PATH", PATH)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("starting containerd: {e}; this test needs the Debian packages containerd and runc")
            });
        let containerd = Containerd { dir, child };
        let mut up = false;
        for _ in 0..100 {
            if containerd.ctr(&["version"]).status.success() {
                up = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(up, "containerd did not start:\n{}", containerd.log());
        containerd
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    fn log(&self) -> String {
        fs::read_to_string(self.path("containerd.log")).unwrap_or_default()
    }

    /// `ctr` on this containerd, in the test's namespace of containerd.
    fn command(&self) -> Command {
        let mut c = Command::new("ctr");
        c.arg("-a")
            .arg(self.path("containerd.sock"))
            .args(["-n", CTR_NAMESPACE])
            .env("PATH", PATH);
        c
    }

    fn ctr(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("running ctr")
    }

    #[track_caller]
    fn ctr_ok(&self, args: &[&str]) -> String {
        ok(self.command().args(args))
    }

    fn running(&self, name: &str) -> bool {
        text(&self.ctr(&["task", "ls"]).stdout)
            .lines()
            .any(|l| l.split_whitespace().next() == Some(name) && l.contains("RUNNING"))
    }

    /// Runs a command in a running container.
    fn exec(&self, name: &str, args: &[&str]) -> Output {
        let id = unique("x");
        let fifo = self.path("fifo");
        let mut c = self.command();
        c.args(["task", "exec", "--fifo-dir"])
            .arg(&fifo)
            .args(["--exec-id", &id, name])
            .args(args);
        c.stdin(Stdio::null()).output().expect("ctr task exec")
    }

    /// `ctr run --cni --rm` in `netns`, in the background: the CNI plugins run in that namespace
    /// (ctr calls them), ADD before the container starts and DEL once its task has exited.
    fn run(&self, netns: &str, name: &str) -> Container<'_> {
        let log = self.path(&format!("{name}.out"));
        let out = File::create(&log).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", netns, "ctr", "-a"])
            .arg(self.path("containerd.sock"))
            .args(["-n", CTR_NAMESPACE, "run", "--cni", "--rm", "--fifo-dir"])
            .arg(self.path("fifo"))
            .arg("--runc-root")
            .arg(self.path("runc"))
            .args([IMAGE, name, "sleep", "3600"])
            .env("PATH", PATH)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("ip netns exec ctr run");
        let mut container = Container {
            containerd: self,
            name: name.to_string(),
            child: Some(child),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.running(name) {
            let exited = container.child.as_mut().unwrap().try_wait().ok().flatten();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "container {name} is not running (ctr: {exited:?}):\n{}\ncontainerd:\n{}",
                container.output(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        container
    }
}

/// Live processes whose command line contains `needle` (zombies have none).
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

/// Unmounts whatever is still mounted under `dir` (a snapshot left by a killed shim), deepest
/// first, so the directory can be removed.
fn unmount_under(dir: &Path) {
    let prefix = format!("{}/", dir.display());
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<&str> = mountinfo
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = Command::new("umount").args(["-l", p]).output();
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Tasks left by a failed test: SIGKILL, so that their ctr does CNI DEL; then containers.
        for task in text(&self.ctr(&["task", "ls", "-q"]).stdout).split_whitespace() {
            let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", task]);
            let _ = self.ctr(&["task", "delete", task]);
        }
        for container in text(&self.ctr(&["container", "ls", "-q"]).stdout).split_whitespace() {
            let _ = self.ctr(&["container", "rm", container]);
        }
        signal(self.child.id(), "TERM");
        if !wait_for(&mut self.child, Duration::from_secs(10)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Shims outlive containerd by design; ours name our socket. Give them a moment to exit
        // (each removes its socket under /run/containerd/s), then stop any left, by PID.
        let socket = self.path("containerd.sock").display().to_string();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let shims = processes_mentioning(&socket);
            if shims.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                for pid in shims {
                    eprintln!("stopping containerd shim {pid} left by this test");
                    signal(pid, "KILL");
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        unmount_under(self.dir.path());
    }
}

/// A container started by a background `ctr run --cni --rm`.
struct Container<'a> {
    containerd: &'a Containerd,
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Container<'_> {
    fn output(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the container's task with SIGKILL (its PID 1 ignores SIGTERM) and waits for ctr to
    /// notice, call CNI DEL and remove the container. Returns whether ctr exited in time.
    fn kill(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let _ = self.containerd.ctr(&["task", "kill", "-s", "SIGKILL", &self.name]);
        let exited = wait_for(&mut child, Duration::from_secs(30));
        if !exited {
            let _ = child.kill();
            let _ = child.wait();
        }
        exited
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        self.kill();
    }
}

fn endpoints(lab: &Lab) -> Vec<Value> {
    let v: Value = serde_json::from_str(&lab.ok(&["get", "wep", "-A", "-o", "json"])).expect("wep JSON");
    v["items"].as_array().cloned().unwrap_or_default()
}

fn allocated(lab: &Lab) -> Vec<String> {
    let v: Value = serde_json::from_str(&lab.ok(&["ipam", "allocations", "-o", "json"])).expect("allocations JSON");
    v.as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["address"].as_str().map(str::to_string))
        .collect()
}

/// The addresses of a container's eth0 (`ip -o addr` inside it), global scope.
fn container_addresses(containerd: &Containerd, name: &str) -> Vec<IpAddr> {
    let out = containerd.exec(name, &["ip", "-o", "addr", "show", "dev", "eth0"]);
    assert!(out.status.success(), "ip addr in {name}: {}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .filter(|l| l.contains("scope global"))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            words.find(|w| *w == "inet" || *w == "inet6")?;
            words.next()?.split('/').next()?.parse().ok()
        })
        .collect()
}

#[test]
fn ctr_runs_a_container_on_the_weft_network() {
    let _lock = SystemLock::take();
    let lab = Lab::up(None);
    let node1 = lab.node_netns("cloud-a", "node-1");
    let (_, socket) = lab.agent("cloud-a", "node-1");
    let source = lab.cni_plugin();
    let plugin = fs::read(&source).unwrap_or_else(|e| panic!("reading {}: {e}", source.display()));

    // Refuse to disturb what is not ours: a foreign /opt/cni/bin/weft, or a config that ctr
    // would read instead of ours.
    let conflist_name = format!("00-{}.conflist", unique("weft-test"));
    let existing_plugin = fs::symlink_metadata(PLUGIN).is_ok();
    if existing_plugin && fs::read(PLUGIN).ok().as_deref() != Some(plugin.as_slice()) {
        panic!(
            "{PLUGIN} exists and is not this build's weft-cni: not overwriting it; move it away \
             to run this test"
        );
    }
    if let Ok(entries) = fs::read_dir(CNI_CONF) {
        let mut configs: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".conf") || n.ends_with(".conflist") || n.ends_with(".json"))
            .collect();
        configs.sort();
        if let Some(first) = configs.first().filter(|f| **f < conflist_name) {
            panic!(
                "{CNI_CONF}/{first} sorts before this test's {conflist_name}: ctr would use it; \
                 move it away to run this test"
            );
        }
    }

    let mut system = SystemPaths::new();
    for dir in ["/opt/cni", CNI_BIN, "/etc/cni", CNI_CONF] {
        system.dir(dir);
    }
    if !existing_plugin {
        system.file(Path::new(PLUGIN), &plugin, 0o755);
    }
    let conflist = json!({
        "cniVersion": "1.0.0",
        "name": "weft",
        "plugins": [{"type": "weft", "agentSocket": socket}],
    });
    system.file(
        &Path::new(CNI_CONF).join(&conflist_name),
        conflist.to_string().as_bytes(),
        0o644,
    );

    let containerd = Containerd::start();
    let image = busybox_image(containerd.dir.path());
    containerd.ctr_ok(&["image", "import", image.to_str().unwrap()]);

    // A lab pod on the other node for the container to reach.
    let peer = lab.pod("cloud-a/default/ctr-peer", "node-2");
    let peer_netns = lab.pod_netns("cloud-a/default/ctr-peer");
    let allocated_before = allocated(&lab);

    let name = unique("c");
    let started = Instant::now();
    let mut container = containerd.run(&node1, &name);
    println!("ctr run --cni: container running after {:?}", started.elapsed());

    // Its address is from the pod network, and the controller knows it as an endpoint on node-1.
    let addresses = container_addresses(&containerd, &name);
    let v4 = addresses
        .iter()
        .copied()
        .find(IpAddr::is_ipv4)
        .unwrap_or_else(|| panic!("no IPv4 address on eth0 in {name}: {addresses:?}"));
    match v4 {
        IpAddr::V4(a) => assert_eq!(a.octets()[..2], [10, 244], "{a} is in 10.244.0.0/16"),
        IpAddr::V6(_) => unreachable!(),
    }
    let container_id = format!("{CTR_NAMESPACE}-{name}");
    let wep = endpoints(&lab)
        .into_iter()
        .find(|w| w["spec"]["containerID"] == container_id.as_str())
        .unwrap_or_else(|| panic!("no WorkloadEndpoint for container id {container_id}"));
    assert_eq!(wep["spec"]["node"], "node-1", "{wep}");
    let wep_addresses: Vec<String> = wep["spec"]["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    for a in &addresses {
        assert!(wep_addresses.contains(&a.to_string()), "{a} in {wep}");
    }
    let host_interface = wep["spec"]["hostInterface"].as_str().unwrap().to_string();

    // It reaches the pod on node-2 (busybox ping inside the container), and back.
    for target in &peer {
        eventually(
            &format!("{name} pings the lab pod at {target}"),
            Duration::from_secs(10),
            || {
                containerd
                    .exec(&name, &["ping", "-c", "1", "-W", "1", target])
                    .status
                    .success()
            },
        );
    }
    for a in &addresses {
        eventually(
            &format!("the lab pod pings {name} at {a}"),
            Duration::from_secs(10),
            || weft_testnet::ping(&peer_netns, *a),
        );
    }

    // Kill it: ctr calls CNI DEL, which releases the endpoint and its addresses.
    assert!(container.kill(), "ctr run did not exit after its task was killed");
    let out = container.output();
    drop(container);
    assert!(
        !endpoints(&lab)
            .iter()
            .any(|w| w["spec"]["containerID"] == container_id.as_str()),
        "the endpoint of {container_id} is gone after the container died (ctr: {out})"
    );
    let now = allocated(&lab);
    for a in &addresses {
        assert!(!now.contains(&a.to_string()), "{a} released");
    }
    assert_eq!(now, allocated_before, "allocations are back to before the container");
    let links = ok(Command::new("ip").args(["-n", &node1, "-o", "link"]));
    assert!(
        !links.contains(&host_interface),
        "{host_interface} removed from node-1: {links}"
    );
    assert!(
        !text(&containerd.ctr(&["container", "ls", "-q"]).stdout).contains(&name),
        "ctr run --rm removed the container"
    );
}
