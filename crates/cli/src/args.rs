//! The command line, in kubectl's shape.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "weft",
    version,
    about = "Weft: virtual networks, NetworkPolicy and multi-cluster routing for Kubernetes",
    after_help = "Exit codes: 0 ok, 1 failure, 2 usage, 3 not found, 4 conflict or already exists, 5 invalid, 6 controller unreachable."
)]
pub struct Cli {
    /// The controller's URL; overrides the context (also $WEFT_SERVER).
    #[arg(long, global = true, env = "WEFT_SERVER")]
    pub server: Option<String>,
    /// The context to use instead of the current one.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// The namespace (default: the context's, else "default").
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update objects from manifests (YAML or JSON; files, directories or - for stdin).
    Apply(ApplyArgs),
    /// Show objects as a table, or as JSON/YAML.
    Get(GetArgs),
    /// Delete objects by name or by manifest.
    Delete(DeleteArgs),
    /// Show the client's and the controller's versions.
    Version(VersionArgs),
    /// Manage contexts: which controller the CLI talks to.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Show and manage IP address pools and allocations.
    #[command(subcommand)]
    Ipam(IpamCommand),
    /// Show the controller's BGP sessions and routes.
    #[command(subcommand)]
    Bgp(BgpCommand),
    /// Which NetworkPolicies select a pod, and why a connection from it is allowed or denied.
    Explain(ExplainArgs),
    /// Run the controller (a long-running daemon).
    Controller(ControllerArgs),
    /// Run a node's agent (a long-running daemon, one per node).
    Agent(AgentArgs),
    /// Build and use whole clusters on this machine, in network namespaces.
    Lab(LabArgs),
    /// Print the CustomResourceDefinitions of Weft's kinds, for a real cluster (| kubectl apply -f -).
    Crds,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The pod, as NAMESPACE/POD (or POD in the namespace of -n).
    pub pod: String,
    /// A connection from the pod to this pod (NAMESPACE/POD) or address.
    #[arg(long)]
    pub to: Option<String>,
    /// The connection's destination port (without one: ICMP, i.e. what port-less rules allow).
    #[arg(long, requires = "to")]
    pub port: Option<u16>,
    /// tcp, udp or sctp.
    #[arg(long, default_value = "tcp", requires = "to", value_parser = ["tcp", "udp", "sctp"])]
    pub protocol: String,
    /// text (default) or json.
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A manifest file, a directory of them, or - for standard input. Repeatable.
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<PathBuf>,
    /// Also read the directories' subdirectories.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Check the manifests and show what would be sent, without sending anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format of the applied objects (default: one line per object).
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The kind: namespaces (ns), pods (po), services (svc), networkpolicies (netpol),
    /// virtualnetworks (vn), clusters, bgppeers; or routes (the BGP speaker's paths).
    pub kind: String,
    /// Names of objects; all objects when none. For routes: a PREFIX, keeping the routes whose
    /// destination contains it, shown in detail.
    pub names: Vec<String>,
    /// Routes only: this family (ipv4-unicast, ipv6-unicast, ipv4-vpn, ipv6-vpn, l2vpn-evpn,
    /// ipv4-rtc).
    #[arg(long)]
    pub family: Option<String>,
    /// Routes only: the routes of this VirtualNetwork (its route distinguisher or route targets).
    #[arg(long)]
    pub vn: Option<String>,
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: OutputFormat,
    /// List across all namespaces.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Filter by labels: k=v, k!=v, k, !k, comma-separated.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// After listing, watch for changes and print them as they happen.
    #[arg(short = 'w', long)]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The kind, when deleting by name.
    pub kind: Option<String>,
    pub names: Vec<String>,
    /// Delete the objects a manifest describes. Repeatable.
    #[arg(short = 'f', long = "filename")]
    pub files: Vec<PathBuf>,
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Succeed when an object is already gone.
    #[arg(long)]
    pub ignore_not_found: bool,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Only the client's version; do not ask the controller.
    #[arg(long)]
    pub client: bool,
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Show the config file.
    View,
    /// List contexts; the current one is marked with *.
    GetContexts,
    /// Print the current context's name.
    CurrentContext,
    /// Make NAME the current context.
    UseContext { name: String },
    /// Create or change a context.
    SetContext {
        name: String,
        /// The controller's URL, e.g. http://127.0.0.1:7420.
        #[arg(long)]
        server: String,
        /// Default namespace for this context.
        #[arg(long = "default-namespace")]
        default_namespace: Option<String>,
        /// Also make it the current context.
        #[arg(long)]
        use_it: bool,
    },
    /// Remove a context.
    DeleteContext { name: String },
}

#[derive(Debug, Subcommand)]
pub enum IpamCommand {
    /// Address pools, their subnets and how full they are.
    Pools {
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: OutputFormat,
    },
    /// Every allocated address and its owner.
    Allocations {
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: OutputFormat,
    },
    /// Allocate addresses for a pod (NAMESPACE/NAME) from its namespace's network.
    Allocate {
        pod: String,
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: OutputFormat,
    },
    /// Release every address an owner holds (e.g. Pod/default/web).
    Release { owner: String },
    /// Release addresses whose owner no longer exists (older than the controller's grace period).
    Gc,
}

#[derive(Debug, Subcommand)]
pub enum BgpCommand {
    /// Every session, like FRR's `show bgp summary`: state, uptime, prefixes per family.
    Peers {
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: OutputFormat,
    },
    /// The speaker's best routes, like FRR's `show bgp ...`.
    Routes {
        /// Only this family: ipv4-unicast, ipv6-unicast, ipv4-vpn, ipv6-vpn, l2vpn-evpn, ipv4-rtc.
        #[arg(long)]
        family: Option<String>,
        /// Only routes whose destination contains this text (a prefix, an RD, ...).
        prefix: Option<String>,
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: OutputFormat,
    },
}

#[derive(Debug, Args)]
pub struct ControllerArgs {
    /// Where the store is kept.
    #[arg(long, default_value = "/var/lib/weft/controller", env = "WEFT_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The API's address.
    #[arg(long, default_value = "127.0.0.1:7420")]
    pub listen: SocketAddr,
    /// How often to collect addresses whose owner is gone, e.g. 60s, 5m.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub gc_interval: std::time::Duration,
    /// How old an orphaned allocation must be before it is collected.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub gc_grace: std::time::Duration,
    /// Also serve the API inside a network namespace: NETNS_PATH=ADDRESS:PORT (repeatable).
    #[arg(long, value_parser = parse_listen_in)]
    pub listen_in: Vec<(PathBuf, SocketAddr)>,
    /// Run the BGP speaker, with the AS and router id of the Cluster object and peers from the
    /// BGPPeer objects.
    #[arg(long)]
    pub bgp: bool,
    /// Where the speaker accepts BGP connections (repeatable; default 0.0.0.0:179). Implies --bgp.
    #[arg(long)]
    pub bgp_listen: Vec<SocketAddr>,
    /// Make the speaker's sockets inside this network namespace (/var/run/netns/NAME). Implies --bgp.
    #[arg(long)]
    pub bgp_netns: Option<PathBuf>,
    /// Write the API's URL to this file once serving (for scripts; use with --listen 127.0.0.1:0).
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// Log filter, e.g. info, debug, weft_controller=debug (also $RUST_LOG).
    #[arg(long, default_value = "info")]
    pub log_level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Wide,
    Json,
    Yaml,
    Name,
}

/// `500ms`, `30s`, `5m`, `1h`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; write e.g. 30s, 5m or 1h"))?;
    let ms = match unit {
        "ms" => n,
        "" | "s" => n * 1000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        _ => {
            return Err(format!("{text:?}: unknown unit {unit:?}; use ms, s, m or h"));
        }
    };
    Ok(std::time::Duration::from_millis(ms))
}

fn parse_listen_in(text: &str) -> Result<(PathBuf, SocketAddr), String> {
    let (netns, address) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("{text:?}: write NETNS_PATH=ADDRESS:PORT, e.g. /var/run/netns/lab=192.0.2.10:7420"))?;
    let address = address
        .parse()
        .map_err(|_| format!("{address:?} is not ADDRESS:PORT"))?;
    Ok((PathBuf::from(netns), address))
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The node's name.
    #[arg(long, env = "WEFT_NODE")]
    pub node: String,
    /// The controller's URL, by IPv4 address: the underlay is found from the route towards it.
    #[arg(long, env = "WEFT_CONTROLLER")]
    pub controller: String,
    /// The unix socket the CNI plugin connects to.
    #[arg(long, default_value = "/run/weft/agent.sock")]
    pub socket: PathBuf,
    /// The pods' MTU (default: the underlay interface's MTU minus 50).
    #[arg(long)]
    pub mtu: Option<u32>,
    /// Write the socket path to this file once serving.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// Log filter, e.g. info, debug.
    #[arg(long, default_value = "info")]
    pub log_level: String,
}

#[derive(Debug, Args)]
pub struct LabArgs {
    /// The lab's name; several labs can run side by side.
    #[arg(long, global = true, env = "WEFT_LAB", default_value = "weft")]
    pub name: String,
    /// Where labs keep their state, logs and data.
    #[arg(long, global = true, env = "WEFT_LAB_ROOT", default_value = "/run/weft/labs")]
    pub root: PathBuf,
    #[command(subcommand)]
    pub command: LabCommand,
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Build the lab and point the CLI at it. Without --topology: the two-cloud demo (clouds
    /// cloud-a and cloud-b, two nodes each, a WAN router between them, eBGP between the
    /// controllers, the manifests of examples/federation applied, pods serving HTTP and UDP).
    Up {
        /// A topology file (YAML): just its clusters, no demo content
        /// (e.g. examples/lab/one-cluster.yaml).
        #[arg(long)]
        topology: Option<PathBuf>,
        /// The controllers peer with FRR on the WAN router (a route server standing for the
        /// cloud's router) instead of with each other.
        #[arg(long)]
        route_server: bool,
    },
    /// Remove everything the lab made: processes, namespaces, files (also after a crash).
    Down,
    /// The clusters, their controller, nodes and pods.
    Status {
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: OutputFormat,
    },
    /// Add or delete pods.
    #[command(subcommand)]
    Pod(LabPodCommand),
    /// Run a command inside a pod's network namespace: weft lab exec CLUSTER/NS/NAME -- CMD ARGS...
    Exec {
        pod: String,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Who reaches whom: every pod pings every other pod's addresses; prints a matrix.
    Probe {
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: OutputFormat,
    },
    /// Stop one of the lab's processes: CLUSTER/controller or CLUSTER/NODE (its agent).
    Stop { component: String },
    /// Start a stopped process again.
    Start { component: String },
    /// Restart a process (e.g. an agent: pods keep running and connected).
    Restart { component: String },
    /// Cut or restore a cluster's WAN link (its leg on the WAN router), as a failed VPN would.
    Wan {
        #[arg(value_enum)]
        action: WanAction,
        cluster: String,
    },
    /// Run a vtysh command on the WAN router's FRR (route-server lab), e.g. "show bgp l2vpn evpn".
    Vtysh {
        #[arg(required = true)]
        command: Vec<String>,
    },
    /// The lab pods' application (run inside a pod by `weft lab pod add`): HTTP and UDP echo.
    #[command(hide = true)]
    Serve {
        #[arg(long)]
        name: String,
        /// Ports to serve (repeatable).
        #[arg(long = "port", default_value = "80")]
        ports: Vec<u16>,
    },
    /// Show the lab's process logs: all, or one (CLUSTER/controller, CLUSTER/NODE).
    Logs {
        component: Option<String>,
        /// Only the last N lines of each.
        #[arg(long, default_value = "40")]
        tail: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WanAction {
    Cut,
    Restore,
}

#[derive(Debug, Subcommand)]
pub enum LabPodCommand {
    /// Create a pod on a node: weft lab pod add CLUSTER/NAMESPACE/NAME --node NODE [--labels k=v,...]
    Add {
        pod: String,
        #[arg(long)]
        node: String,
        /// Labels, k=v comma-separated.
        #[arg(long, value_delimiter = ',')]
        labels: Vec<String>,
        /// Named container ports, NAME=PORT[/PROTOCOL] comma-separated (for Services whose
        /// targetPort names a port), e.g. http=8080,dns=53/UDP.
        #[arg(long, value_delimiter = ',')]
        ports: Vec<String>,
        /// Do not start the pod's server (HTTP and UDP echo on port 80).
        #[arg(long)]
        no_server: bool,
    },
    /// Delete a pod: CNI DEL, its namespace, its Pod object.
    Del { pod: String },
}
