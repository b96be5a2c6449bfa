//! The server under test: started as a child process, observed through /proc, and
//! always stopped (SIGTERM, then SIGKILL) when the `ServerProc` is dropped.

use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// What was asked for the server process.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub path: PathBuf,
    pub extra_args: Vec<String>,
    pub pin_cpu: Option<usize>,
    pub log_path: PathBuf,
    pub start_timeout: Duration,
    pub stop_timeout: Duration,
}

/// How the server ended.
#[derive(Debug, Clone)]
pub struct StopInfo {
    pub status: Option<ExitStatus>,
    pub killed: bool,
    pub already_exited: bool,
    pub took: Duration,
}

impl StopInfo {
    pub fn describe(&self) -> String {
        if self.status.is_none() && !self.killed && !self.already_exited {
            return "server attached with --external, left running".to_owned();
        }
        let status = match self.status {
            Some(s) => s.to_string(),
            None => "unknown".to_owned(),
        };
        if self.already_exited {
            format!("server had ALREADY EXITED before the end of the run ({status})")
        } else if self.killed {
            format!(
                "server did not exit {:.1}s after SIGTERM, killed ({status})",
                self.took.as_secs_f64()
            )
        } else {
            format!(
                "server stopped on SIGTERM in {:.2}s ({status})",
                self.took.as_secs_f64()
            )
        }
    }

    pub fn clean(&self) -> bool {
        !self.already_exited && !self.killed && self.status.is_some_and(|s| s.success())
    }
}

#[derive(Debug)]
pub struct ServerProc {
    /// None when attached to a server this process did not start.
    child: Option<Child>,
    pub pid: u32,
    pub addr: SocketAddr,
    pub log_path: PathBuf,
    pub pinned: bool,
    stop_timeout: Duration,
    stopped: Option<StopInfo>,
}

/// Whether `taskset` can be run.
pub fn have_taskset() -> bool {
    Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl ServerProc {
    pub fn start(opts: &ServerOptions) -> Result<Self, String> {
        let log = File::create(&opts.log_path)
            .map_err(|e| format!("cannot create {}: {e}", opts.log_path.display()))?;
        let pinned = opts.pin_cpu.is_some() && have_taskset();
        let mut command = match opts.pin_cpu {
            Some(cpu) if pinned => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(&opts.path);
                c
            }
            _ => Command::new(&opts.path),
        };
        command
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(&opts.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        set_parent_death_signal(&mut command);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", opts.path.display()))?;
        let pid = child.id();
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("server stdout not captured".into());
        };
        // Read the LISTENING line on a thread (with a timeout), then keep draining stdout.
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if line.starts_with("LISTENING ") {
                            let _ = tx.send(line.trim().to_owned());
                            break;
                        }
                    }
                }
            }
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        let mut proc = Self {
            child: Some(child),
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log_path: opts.log_path.clone(),
            pinned,
            stop_timeout: opts.stop_timeout,
            stopped: None,
        };
        let line = match rx.recv_timeout(opts.start_timeout) {
            Ok(line) => line,
            Err(_) => {
                let info = proc.stop();
                return Err(format!(
                    "server printed no LISTENING line within {:?} ({}); log: {}",
                    opts.start_timeout,
                    info.describe(),
                    opts.log_path.display()
                ));
            }
        };
        proc.addr = line["LISTENING ".len()..]
            .parse()
            .map_err(|e| format!("bad LISTENING line {line:?}: {e}"))?;
        Ok(proc)
    }

    /// A server started elsewhere: observed (when its pid is known), never stopped.
    pub fn attach(addr: SocketAddr, pid: Option<u32>) -> Self {
        Self {
            child: None,
            pid: pid.unwrap_or(0),
            addr,
            log_path: PathBuf::new(),
            pinned: false,
            stop_timeout: Duration::ZERO,
            stopped: None,
        }
    }

    /// Whether the process is still running (it may have crashed).
    pub fn alive(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => self.pid == 0 || Path::new(&format!("/proc/{}", self.pid)).exists(),
        }
    }

    pub fn attached(&self) -> bool {
        self.child.is_none()
    }

    pub fn stats(&self) -> Option<ProcStats> {
        if self.pid == 0 {
            return None;
        }
        ProcStats::read(&format!("/proc/{}", self.pid))
    }

    /// SIGTERM, wait, then SIGKILL. Idempotent.
    pub fn stop(&mut self) -> StopInfo {
        if let Some(info) = &self.stopped {
            return info.clone();
        }
        let start = Instant::now();
        let Some(child) = self.child.as_mut() else {
            return StopInfo {
                status: None,
                killed: false,
                already_exited: false,
                took: Duration::ZERO,
            };
        };
        let info = match child.try_wait() {
            Ok(Some(status)) => StopInfo {
                status: Some(status),
                killed: false,
                already_exited: true,
                took: Duration::ZERO,
            },
            _ => {
                let _ = kill(Pid::from_raw(self.pid as i32), Signal::SIGTERM);
                let mut status = None;
                while start.elapsed() < self.stop_timeout {
                    if let Ok(Some(s)) = child.try_wait() {
                        status = Some(s);
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let killed = status.is_none();
                if killed {
                    let _ = child.kill();
                    status = child.wait().ok();
                }
                StopInfo {
                    status,
                    killed,
                    already_exited: false,
                    took: start.elapsed(),
                }
            }
        };
        self.stopped = Some(info.clone());
        info
    }

    /// Lines of the server log at WARN or ERROR level (count, first few).
    pub fn log_problems(&self, keep: usize) -> (usize, Vec<String>) {
        log_problems(&self.log_path, keep)
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn log_problems(path: &Path, keep: usize) -> (usize, Vec<String>) {
    let Ok(file) = File::open(path) else {
        return (0, Vec::new());
    };
    let mut count = 0;
    let mut lines = Vec::new();
    for line in BufReader::new(file).lines().map_while(Result::ok) {
        let plain = strip_ansi(&line);
        if plain.contains(" WARN ") || plain.contains(" ERROR ") || plain.contains("panicked") {
            count += 1;
            if lines.len() < keep {
                lines.push(plain);
            }
        }
    }
    (count, lines)
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// If this process dies (even by SIGKILL), the kernel sends the server SIGTERM.
#[allow(unsafe_code)]
fn set_parent_death_signal(command: &mut Command) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: the closure runs in the forked child before exec and only calls
    // prctl(2), which is async-signal-safe; it touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(std::io::Error::from)
        });
    }
}

/// Memory and CPU of one process, from /proc.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcStats {
    pub rss_bytes: u64,
    pub rss_anon_bytes: u64,
    pub cpu_secs: f64,
    pub threads: u64,
}

impl ProcStats {
    pub fn read(dir: &str) -> Option<Self> {
        let status = std::fs::read_to_string(format!("{dir}/status")).ok()?;
        let kb = |key: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
        // Fields after the command name (which may hold spaces) start at field 3.
        let after = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        let threads: u64 = fields.get(17)?.parse().ok()?;
        let tck = clock_ticks();
        Some(Self {
            rss_bytes: kb("VmRSS:") * 1024,
            rss_anon_bytes: kb("RssAnon:") * 1024,
            cpu_secs: (utime + stime) as f64 / tck,
            threads,
        })
    }

    pub fn current() -> Option<Self> {
        Self::read("/proc/self")
    }
}

fn clock_ticks() -> f64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as f64,
        _ => 100.0,
    }
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// CPU seconds the whole machine spent busy (every CPU, /proc/stat), and stolen by the
/// hypervisor. Compared with the server's and loadgen's own CPU time it shows how much
/// else (other processes, kernel softirq work) ran during a measurement.
#[derive(Debug, Clone, Copy, Default)]
pub struct MachineCpu {
    pub busy_secs: f64,
    pub steal_secs: f64,
    pub irq_secs: f64,
}

impl MachineCpu {
    pub fn read() -> Self {
        let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
            return Self::default();
        };
        let Some(line) = stat.lines().next() else {
            return Self::default();
        };
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        let at = |i: usize| v.get(i).copied().unwrap_or(0);
        // user nice system idle iowait irq softirq steal (guest is inside user)
        let busy = at(0) + at(1) + at(2) + at(5) + at(6);
        let tck = clock_ticks();
        Self {
            busy_secs: busy as f64 / tck,
            steal_secs: at(7) as f64 / tck,
            irq_secs: (at(5) + at(6)) as f64 / tck,
        }
    }

    /// CPU seconds used between `self` and `later` by anything but `known` seconds:
    /// (other, of which irq/softirq, steal).
    pub fn other_since(&self, later: &Self, known: f64) -> (f64, f64, f64) {
        (
            (later.busy_secs - self.busy_secs - known).max(0.0),
            later.irq_secs - self.irq_secs,
            later.steal_secs - self.steal_secs,
        )
    }
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Where the CPU went during a measurement: the server, loadgen, and everything else
/// (other processes and the kernel's softirq work), plus the hypervisor's steal.
#[derive(Debug, Clone, Copy)]
pub struct CpuSplit {
    pub server: f64,
    pub loadgen: f64,
    pub other: f64,
    pub softirq: f64,
    pub steal: f64,
}

impl CpuSplit {
    /// From the server's and loadgen's CPU seconds and the machine's counters, read before
    /// and after the measurement.
    pub fn between(server: [f64; 2], loadgen: [f64; 2], machine: [&MachineCpu; 2]) -> Self {
        let server = server[1] - server[0];
        let loadgen = loadgen[1] - loadgen[0];
        let (other, softirq, steal) = machine[0].other_since(machine[1], server + loadgen);
        Self {
            server,
            loadgen,
            other,
            softirq,
            steal,
        }
    }

    /// Adds the split to a RESULT object, with utilisations over `secs`.
    pub fn add_to(&self, result: &mut serde_json::Value, secs: f64) {
        if let serde_json::Value::Object(fields) = result {
            for (key, value) in [
                ("server_cpu_secs", self.server),
                ("server_cpu_util", self.server / secs),
                ("loadgen_cpu_secs", self.loadgen),
                ("loadgen_cpu_util", self.loadgen / secs),
                ("other_cpu_secs", self.other),
                ("softirq_secs", self.softirq),
                ("steal_secs", self.steal),
            ] {
                fields.insert(key.to_owned(), value.into());
            }
        }
    }
}
