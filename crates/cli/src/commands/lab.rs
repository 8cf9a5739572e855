//! `weft lab`: build, inspect and tear down whole clusters on this machine.

use std::os::unix::process::CommandExt;
use std::time::Instant;

use anyhow::{Context as _, Result};
use weft_lab::pods::PodRef;
use weft_lab::topology::Peering;
use weft_lab::{Binaries, LabState, Topology};

use crate::args::{LabArgs, LabCommand, LabPodCommand, OutputFormat, WanAction};
use crate::config::{self as cfg, Config, Context};
use crate::exit::{self, Exit};
use crate::output::{self, Table};

fn usage(e: weft_lab::LabError) -> anyhow::Error {
    match e {
        weft_lab::LabError::Usage(m) => Exit::new(exit::USAGE, m).into(),
        other => anyhow::Error::new(other),
    }
}

fn load(args: &LabArgs) -> Result<LabState> {
    LabState::load(&args.root.join(&args.name))
        .map_err(usage)?
        .ok_or_else(|| {
            Exit::new(
                exit::NOT_FOUND,
                format!("lab {} is not up; start it with `weft lab up`", args.name),
            )
            .into()
        })
}

pub async fn run(args: LabArgs) -> Result<u8> {
    match &args.command {
        LabCommand::Up { topology, route_server } => up(&args, topology.as_deref(), *route_server).await,
        LabCommand::Wan { action, cluster } => {
            let state = load(&args)?;
            let up = *action == WanAction::Restore;
            weft_lab::wan::set_link(&state, cluster, up).map_err(usage)?;
            println!(
                "{cluster}: WAN link {}",
                if up {
                    "restored"
                } else {
                    "cut (sessions across it go down after the hold time)"
                }
            );
            Ok(exit::OK)
        }
        LabCommand::Vtysh { command } => {
            let state = load(&args)?;
            print!("{}", weft_lab::wan::vtysh(&state, &command.join(" ")).map_err(usage)?);
            Ok(exit::OK)
        }
        LabCommand::Serve { name, ports } => {
            weft_lab::serve::serve(name, ports).with_context(|| format!("serving on ports {ports:?}"))?;
            Ok(exit::OK)
        }
        LabCommand::Down => {
            let started = Instant::now();
            let mut progress = |step: &str| eprintln!("  {step}");
            let existed = weft_lab::down(&args.name, &args.root, &mut progress).map_err(usage)?;
            if existed {
                println!("lab {} removed in {:.1}s", args.name, started.elapsed().as_secs_f64());
            } else {
                println!("lab {} is not up; nothing to remove", args.name);
            }
            Ok(exit::OK)
        }
        LabCommand::Status { output: format } => status(&args, *format),
        LabCommand::Pod(LabPodCommand::Add {
            pod,
            node,
            labels,
            ports,
            no_server,
        }) => {
            let pod: PodRef = pod.parse().map_err(usage)?;
            let mut parsed = Vec::new();
            for l in labels.iter().filter(|l| !l.is_empty()) {
                let (k, v) = l
                    .split_once('=')
                    .ok_or_else(|| Exit::new(exit::USAGE, format!("--labels {l:?}: write k=v,k2=v2")))?;
                parsed.push((k.to_string(), v.to_string()));
            }
            let started = Instant::now();
            let ports = ports
                .iter()
                .filter(|p| !p.is_empty())
                .map(|p| weft_lab::pods::parse_port(p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(usage)?;
            let made = weft_lab::pods::add(&args.root, &args.name, &pod, node, &parsed, &ports, !no_server)
                .await
                .map_err(usage)?;
            println!(
                "pod {pod} on {node}: {} ({} ms)",
                made.addresses.join(", "),
                started.elapsed().as_millis()
            );
            Ok(exit::OK)
        }
        LabCommand::Pod(LabPodCommand::Del { pod }) => {
            let pod: PodRef = pod.parse().map_err(usage)?;
            weft_lab::pods::delete(&args.root, &args.name, &pod)
                .await
                .map_err(usage)?;
            println!("pod {pod} deleted");
            Ok(exit::OK)
        }
        LabCommand::Exec { pod, command } => {
            let state = load(&args)?;
            let pod: PodRef = pod.parse().map_err(usage)?;
            let record = weft_lab::pods::find(&state, &pod).map_err(usage)?;
            let err = std::process::Command::new("ip")
                .args(["netns", "exec", &record.netns])
                .args(command)
                .exec();
            Err(Exit::new(exit::FAILURE, format!("cannot run {}: {err}", command.join(" "))).into())
        }
        LabCommand::Logs { component, tail } => logs(&args, component.as_deref(), *tail),
        LabCommand::Probe { output: format } => probe(&args, *format).await,
        LabCommand::Stop { component } => control(&args, component, weft_lab::Action::Stop),
        LabCommand::Start { component } => control(&args, component, weft_lab::Action::Start),
        LabCommand::Restart { component } => control(&args, component, weft_lab::Action::Restart),
    }
}

async fn up(args: &LabArgs, topology: Option<&std::path::Path>, route_server: bool) -> Result<u8> {
    let demo = topology.is_none();
    let mut topology = match topology {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            Topology::from_yaml(&text, &path.display().to_string()).map_err(usage)?
        }
        None => Topology::two_clouds(Peering::Direct),
    };
    if route_server {
        let wan = topology.wan.as_mut().ok_or_else(|| {
            Exit::new(
                exit::USAGE,
                "--route-server needs clusters joined by a WAN: a topology with a `wan:` section, or none for the demo",
            )
        })?;
        wan.peering = Peering::RouteServer;
    }
    let weft = std::env::current_exe().context("finding the weft binary")?;
    let bins = Binaries::beside(weft).map_err(usage)?;
    let started = Instant::now();
    eprintln!("Building lab {} in {}", args.name, args.root.join(&args.name).display());
    let mut progress = |step: &str| eprintln!("  [{:>5.1}s] {step}", started.elapsed().as_secs_f64());
    let built = async {
        let state = weft_lab::up(&args.name, &args.root, topology, &bins, &mut progress).await?;
        if demo {
            weft_lab::demo::populate(&args.root, &state, &mut progress).await?;
            weft_lab::demo::wait_converged(&args.root, &args.name, &mut progress).await?;
        }
        Ok::<_, weft_lab::LabError>(state)
    };
    let state = match built.await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("removing what was built...");
            let _ = weft_lab::down(&args.name, &args.root, &mut |s| eprintln!("  {s}"));
            return Err(Exit::new(exit::FAILURE, "weft lab up failed").into());
        }
    };
    point_cli_at(&state, true)?;
    let state = load(args)?;
    println!("Lab {} is up ({:.1}s):", args.name, started.elapsed().as_secs_f64());
    print!("{}", status_table(&state).render());
    let first = &state.clusters[0];
    if demo {
        println!();
        print!("{}", pods_table(&state).render());
        let api = state
            .pods
            .iter()
            .find(|p| p.name == "api-1")
            .and_then(|p| p.addresses.first().cloned())
            .unwrap_or_else(|| "<api-1 address>".into());
        println!(
            "\nTwo clouds joined over BGP (EVPN type 5): frontend in cloud-a and backend in cloud-b share the network"
        );
        println!("\"shared\" (route target 65000:100); other, and admin in cloud-b, are cut off from everything else.");
        println!(
            "The CLI now talks to {} (context lab-{}; lab-cloud-b for the other). Try:",
            first.name, first.name
        );
        println!("  weft lab probe                          # who reaches whom: ICMP, TCP (HTTP) and UDP");
        println!("  weft bgp routes --family l2vpn-evpn     # the EVPN routes cloud-a holds, with RT, VNI, router MAC");
        println!("  weft lab exec cloud-a/frontend/web -- ping -c 3 {api}");
        println!("Then: weft lab wan cut cloud-b (and restore), weft lab restart cloud-a/controller.");
        println!("Remove it with: weft lab down");
        return Ok(exit::OK);
    }
    let node = &first.nodes[0].name;
    println!(
        "\nThe CLI now talks to {} (context lab-{}). Try:",
        first.name, first.name
    );
    println!("  weft lab pod add {}/default/a --node {node}", first.name);
    println!(
        "  weft lab pod add {}/default/b --node {}",
        first.name,
        first.nodes.last().map(|n| n.name.as_str()).unwrap_or(node)
    );
    println!("  weft lab exec {}/default/a -- ping -c 3 <address of b>", first.name);
    println!("  weft get workloadendpoints -A");
    println!("Remove it with: weft lab down");
    Ok(exit::OK)
}

fn pods_table(state: &LabState) -> Table {
    let mut t = Table::new(&["POD", "NODE", "ADDRESSES", "NETNS"]);
    for p in &state.pods {
        t.row(vec![
            format!("{}/{}/{}", p.cluster, p.namespace, p.name),
            p.node.clone(),
            p.addresses.join(","),
            p.netns.clone(),
        ]);
    }
    t
}

fn status_table(state: &LabState) -> Table {
    let mut t = Table::new(&["CLUSTER", "COMPONENT", "NETNS", "ADDRESS", "PID", "RUNNING"]);
    for c in &state.clusters {
        let running = |pid: u32| {
            if std::path::Path::new(&format!("/proc/{pid}")).exists() {
                "yes"
            } else {
                "no"
            }
            .to_string()
        };
        t.row(vec![
            c.name.clone(),
            "controller".into(),
            c.controller.netns.clone(),
            format!("{} (cli {})", c.underlay_url, c.url),
            c.controller.pid.to_string(),
            running(c.controller.pid),
        ]);
        for n in &c.nodes {
            t.row(vec![
                c.name.clone(),
                format!("node {}", n.name),
                n.netns.clone(),
                n.address.clone(),
                n.agent.pid.to_string(),
                running(n.agent.pid),
            ]);
        }
    }
    t
}

fn status(args: &LabArgs, format: OutputFormat) -> Result<u8> {
    let state = load(args)?;
    match format {
        OutputFormat::Json => output::print_json(&state)?,
        OutputFormat::Yaml => output::print_yaml(&state)?,
        _ => {
            print!("{}", status_table(&state).render());
            if !state.pods.is_empty() {
                println!();
                print!("{}", pods_table(&state).render());
            }
        }
    }
    Ok(exit::OK)
}

fn logs(args: &LabArgs, component: Option<&str>, tail: usize) -> Result<u8> {
    let state = load(args)?;
    let mut files = Vec::new();
    for c in &state.clusters {
        files.push((format!("{}/controller", c.name), c.controller.log.clone()));
        for n in &c.nodes {
            files.push((format!("{}/{}", c.name, n.name), n.agent.log.clone()));
        }
    }
    let chosen: Vec<_> = files
        .iter()
        .filter(|(name, _)| component.is_none_or(|c| c == name))
        .collect();
    if chosen.is_empty() {
        let known: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        return Err(Exit::new(
            exit::NOT_FOUND,
            format!(
                "no component {:?}; components: {}",
                component.unwrap_or_default(),
                known.join(", ")
            ),
        )
        .into());
    }
    for (name, path) in chosen {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        println!("==> {name} ({}) <==", path.display());
        for line in &lines[lines.len().saturating_sub(tail)..] {
            println!("{line}");
        }
    }
    Ok(exit::OK)
}

fn control(args: &LabArgs, component: &str, action: weft_lab::Action) -> Result<u8> {
    let started = Instant::now();
    let pid = weft_lab::control(&args.root, &args.name, component, action).map_err(usage)?;
    if component.ends_with("/controller") && pid != 0 {
        point_cli_at(&load(args)?, false)?;
    }
    let what = match action {
        weft_lab::Action::Stop => "stopped".to_string(),
        weft_lab::Action::Start => format!("started (pid {pid})"),
        weft_lab::Action::Restart => format!("restarted (pid {pid})"),
    };
    println!("{component} {what} in {} ms", started.elapsed().as_millis());
    Ok(exit::OK)
}

/// A context per cluster (`lab-CLUSTER`); with `make_current`, the first one becomes current.
fn point_cli_at(state: &LabState, make_current: bool) -> Result<()> {
    let path = cfg::path();
    let mut config = Config::load(&path)?;
    for (i, c) in state.clusters.iter().enumerate() {
        let name = format!("lab-{}", c.name);
        config.set(Context {
            name: name.clone(),
            server: c.url.clone(),
            namespace: None,
        });
        if i == 0 && make_current {
            config.current_context = Some(name);
        }
    }
    config.save(&path)
}

/// Every Service with a port 80 in every cluster of the lab, as probe targets.
async fn service_targets(state: &LabState) -> Vec<weft_lab::probe::Target> {
    let mut out = Vec::new();
    for c in &state.clusters {
        let Ok(client) = weft_client::Client::new(&c.url) else {
            continue;
        };
        let Ok(services) = client.endpoints(None).await else {
            continue;
        };
        for s in services {
            out.push(weft_lab::probe::Target {
                id: format!("{}/{}/svc/{}", c.name, s.namespace, s.name),
                addresses: s.cluster_ips.iter().map(|ip| ip.to_string()).collect(),
                protocols: s
                    .ports
                    .iter()
                    .filter(|p| p.port == weft_lab::probe::SERVER_PORT && p.protocol != "SCTP")
                    .map(|p| p.protocol.to_ascii_lowercase())
                    .collect(),
                service: true,
            });
        }
    }
    out
}

async fn probe(args: &LabArgs, format: OutputFormat) -> Result<u8> {
    let state = load(args)?;
    if state.pods.len() < 2 {
        return Err(Exit::new(
            exit::USAGE,
            "the lab has fewer than two pods; add some with `weft lab pod add`",
        )
        .into());
    }
    let started = Instant::now();
    eprintln!(
        "probing {} pods: ICMP to every address, and HTTP (TCP) and UDP to port {} where the pod serves...",
        state.pods.len(),
        weft_lab::probe::SERVER_PORT
    );
    let services = service_targets(&state).await;
    let probing = state.clone();
    let targets = services.clone();
    let results = tokio::task::spawn_blocking(move || weft_lab::probe::run(&probing, &targets, 64))
        .await
        .context("probing")?;
    match format {
        OutputFormat::Json => output::print_json(&results)?,
        OutputFormat::Yaml => output::print_yaml(&results)?,
        _ => {
            // Rows: from; columns: to. A cell is "ok" when every address answered, "-" when
            // none did, and the count otherwise.
            let names: Vec<String> = state
                .pods
                .iter()
                .map(|p| format!("{}/{}/{}", p.cluster, p.namespace, p.name))
                .chain(services.iter().map(|s| s.id.clone()))
                .collect();
            let short: Vec<String> = (1..=names.len()).map(|i| format!("[{i}]")).collect();
            let mut headers = vec!["FROM \\ TO".to_string()];
            headers.extend(short.iter().cloned());
            let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
            let mut t = Table::new(&header_refs);
            for (i, from) in names.iter().enumerate().take(state.pods.len()) {
                let mut row = vec![format!("{} {from}", short[i])];
                for to in &names {
                    if from == to {
                        row.push(".".into());
                        continue;
                    }
                    let cells: Vec<&weft_lab::probe::Probe> =
                        results.iter().filter(|r| &r.from == from && &r.to == to).collect();
                    let ok = cells.iter().filter(|r| r.reached).count();
                    // Which protocols got through to every address, when not all did.
                    let partial = || {
                        let mut protocols: Vec<&str> = Vec::new();
                        for c in &cells {
                            let name = if c.protocol.starts_with("icmp") {
                                "icmp"
                            } else {
                                c.protocol.as_str()
                            };
                            let all = cells.iter().filter(|o| o.protocol.starts_with(name)).all(|o| o.reached);
                            if all && !protocols.contains(&name) {
                                protocols.push(name);
                            }
                        }
                        if protocols.is_empty() {
                            format!("{ok}/{}", cells.len())
                        } else {
                            protocols.join("+")
                        }
                    };
                    row.push(match ok {
                        0 => "-".into(),
                        n if n == cells.len() => "ok".into(),
                        _ => partial(),
                    });
                }
                t.row(row);
            }
            print!("{}", t.render());
            for (i, s) in services.iter().enumerate() {
                let column = state.pods.len() + i + 1;
                println!("[{column}] Service {} ({})", s.id, s.addresses.join(", "));
            }
            println!(
                "ok: every probe answered (ICMP, TCP, UDP; IPv4 and IPv6), -: none did, else what did.  ({} probes, {:.1}s)",
                results.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(exit::OK)
}
