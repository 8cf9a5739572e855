//! The agent's side of the CNI plugin's socket: one JSON request line, one JSON answer line.
//! ADD reserves the pod's addresses with the controller first (as a WorkloadEndpoint), wires the
//! interface, then programs the node; any failure undoes what was done, so no address leaks.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use weft_api::sync::LocalEndpoint;
use weft_api::{Kind, ObjectMeta, Resource, WorkloadEndpoint, WorkloadEndpointSpec};
use weft_client::{Client, ClientError};
use weft_cni::protocol::{
    AgentError as CniError, AgentRequest, AgentResponse, AttachResult, Attachment, RouteEntry, codes,
};
use weft_dataplane::Kernel;
use weft_dataplane::marks::{self, POD_GATEWAY_V4, POD_GATEWAY_V6};
use weft_dataplane::pod::{self, PodSpec, format_mac};

use crate::owner::{Message, OwnerHandle};
use crate::{AgentConfig, AgentError};

/// The longest the first pod of a network on this node waits for the network to arrive from the
/// controller (it normally does within milliseconds of the endpoint's write).
const NETWORK_WAIT: Duration = Duration::from_secs(2);

/// What the handlers need.
#[derive(Clone)]
pub struct Context {
    client: Client,
    kernel: Kernel,
    owner: OwnerHandle,
    config: AgentConfig,
    mtu: u32,
}

impl Context {
    pub fn new(client: Client, kernel: Kernel, owner: OwnerHandle, config: AgentConfig, mtu: u32) -> Context {
        Context {
            client,
            kernel,
            owner,
            config,
            mtu,
        }
    }
}

pub struct Server {
    listener: UnixListener,
    context: Context,
}

impl Server {
    /// Binds the socket (replacing a stale one from an earlier run), readable by root only.
    pub fn bind(path: &Path, context: Context) -> Result<Server, AgentError> {
        let fail = |reason: String| AgentError::Socket {
            path: path.display().to_string(),
            reason,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        }
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).map_err(|e| fail(e.to_string()))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| fail(e.to_string()))?;
        Ok(Server { listener, context })
    }

    pub async fn run(self) {
        loop {
            match self.listener.accept().await {
                Ok((stream, _)) => {
                    let context = self.context.clone();
                    tokio::spawn(async move {
                        if let Err(e) = serve(stream, context).await {
                            tracing::warn!(error = %e, "CNI connection failed");
                        }
                    });
                }
                Err(e) => {
                    tracing::error!(error = %e, "CNI socket accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

async fn serve(stream: UnixStream, context: Context) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(1 << 20));
    tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line))
        .await
        .map_err(|_| std::io::Error::other("no request within 10 s"))??;
    let response = match serde_json::from_str::<AgentRequest>(&line) {
        Ok(request) => handle(request, &context).await,
        Err(e) => error(codes::DECODE_FAILURE, "cannot decode the request", e.to_string()),
    };
    let mut out = serde_json::to_vec(&response).unwrap_or_default();
    out.push(b'\n');
    write.write_all(&out).await?;
    write.shutdown().await
}

use tokio::io::AsyncReadExt as _;

fn error(code: u32, msg: impl Into<String>, details: impl Into<String>) -> AgentResponse {
    AgentResponse::Error(CniError {
        code,
        msg: msg.into(),
        details: details.into(),
    })
}

fn controller_error(what: &str, e: ClientError) -> AgentResponse {
    match e {
        ClientError::Unreachable { .. } => error(
            codes::TRY_AGAIN_LATER,
            format!("{what}: the controller is unreachable"),
            e.to_string(),
        ),
        other => error(
            codes::CONTROLLER_REFUSED,
            format!("{what}: the controller refused"),
            other.to_string(),
        ),
    }
}

async fn handle(request: AgentRequest, context: &Context) -> AgentResponse {
    match request {
        AgentRequest::Add(a) => add(&a, context).await,
        AgentRequest::Del(a) => del(&a, context).await,
        AgentRequest::Check(a) => check(&a, context).await,
        AgentRequest::Status { .. } => {
            if context.owner.connected() {
                AgentResponse::Ok { result: None }
            } else {
                error(
                    codes::PLUGIN_NOT_AVAILABLE,
                    "the agent has no connection to the controller",
                    context.config.controller.clone(),
                )
            }
        }
        AgentRequest::Gc { network, valid } => gc(&network, &valid, context).await,
    }
}

/// The pod an attachment is for: Kubernetes' names from CNI_ARGS, or for a plain container
/// runtime, the default namespace and a name from the container id.
fn pod_of(a: &Attachment) -> (String, String) {
    match (&a.pod_namespace, &a.pod_name) {
        (Some(ns), Some(name)) => (ns.clone(), name.clone()),
        _ => {
            let id: String = a
                .container_id
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_lowercase())
                .take(40)
                .collect();
            ("default".into(), format!("ctr-{id}"))
        }
    }
}

fn endpoint_object(
    node: &str,
    namespace: &str,
    pod: &str,
    a: &Attachment,
    host: Option<(&str, &str)>,
    addresses: Vec<String>,
) -> Resource {
    Resource::WorkloadEndpoint(WorkloadEndpoint {
        metadata: ObjectMeta {
            name: Some(pod.to_string()),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        },
        spec: WorkloadEndpointSpec {
            node: node.to_string(),
            pod: pod.to_string(),
            container_id: a.container_id.clone(),
            interface: a.ifname.clone(),
            host_interface: host.map(|h| h.0.to_string()),
            mac: host.map(|h| h.1.to_string()),
            network: None,
            addresses,
        },
    })
}

async fn add(a: &Attachment, context: &Context) -> AgentResponse {
    let Some(netns) = a.netns.clone() else {
        return error(codes::INVALID_ENV, "CNI_NETNS is required for ADD", "");
    };
    let (namespace, pod_name) = pod_of(a);
    let interface = marks::pod_interface(&a.container_id, &a.ifname);
    context
        .owner
        .send(Message::Pending {
            interface: interface.clone(),
            active: true,
        })
        .await;
    let result = add_inner(a, context, &netns, &namespace, &pod_name).await;
    context
        .owner
        .send(Message::Pending {
            interface,
            active: false,
        })
        .await;
    result
}

async fn add_inner(a: &Attachment, context: &Context, netns: &str, namespace: &str, pod_name: &str) -> AgentResponse {
    let node = &context.config.node;
    // The interface's names are chosen, not discovered, so the endpoint is complete from its
    // first write: one durable write to the controller per ADD.
    let host_interface = marks::pod_interface(&a.container_id, &a.ifname);
    let pod_mac = marks::pod_mac(&a.container_id, &a.ifname);
    let container_mac = format_mac(&pod_mac);
    // 1. Reserve the addresses: the controller allocates them with the endpoint.
    let endpoint = endpoint_object(
        node,
        namespace,
        pod_name,
        a,
        Some((&host_interface, &container_mac)),
        Vec::new(),
    );
    let stored = match context.client.apply(&endpoint, false).await {
        Ok(r) => r,
        Err(e) => return controller_error(&format!("reserving addresses for {namespace}/{pod_name}"), e),
    };
    let wep = match weft_client::decode(stored.object) {
        Ok(Resource::WorkloadEndpoint(w)) => w,
        _ => {
            return error(
                codes::CONTROLLER_REFUSED,
                "the controller answered with something else than a WorkloadEndpoint",
                "",
            );
        }
    };
    if wep.spec.node != *node {
        return error(
            codes::CONTROLLER_REFUSED,
            format!(
                "{namespace}/{pod_name} already has an endpoint on node {}",
                wep.spec.node
            ),
            "delete the pod there first",
        );
    }
    let addresses: Vec<IpAddr> = wep.spec.addresses.iter().filter_map(|s| s.parse().ok()).collect();
    let network = wep.spec.network.clone().unwrap_or_default();
    let mtu = a.mtu.unwrap_or(context.mtu);
    // 2. Wire the interface; on failure give the addresses back.
    let spec = PodSpec {
        container_id: a.container_id.clone(),
        ifname: a.ifname.clone(),
        netns: netns.to_string(),
        addresses: addresses.clone(),
        mtu,
        mac: Some(pod_mac),
    };
    // A netlink socket of its own: the kernel does a link change inside the send, and one shared
    // socket would serialize concurrent ADDs and DELs.
    let kernel = Kernel::connect().unwrap_or_else(|_| context.kernel.clone());
    let made = match pod::attach(&kernel, &spec).await {
        Ok(m) => m,
        Err(e) => {
            if let Err(undo) = context
                .client
                .delete(Kind::WorkloadEndpoint, Some(namespace), pod_name, None)
                .await
            {
                tracing::error!(error = %undo, "cannot release the addresses of a failed ADD; garbage collection will");
            }
            return error(
                codes::IO_FAILURE,
                format!("wiring {namespace}/{pod_name}"),
                e.to_string(),
            );
        }
    };
    let host_mac = format_mac(&made.host_mac);
    debug_assert_eq!(made.host_interface, host_interface);
    // The network's table and VNI come with the controller's state: the first pod of a network
    // on this node waits (briefly) for them, so that its routes exist when ADD answers.
    if !network.is_empty() && context.owner.connected() {
        let started = std::time::Instant::now();
        while !context.owner.state().await.networks.contains_key(&network) && started.elapsed() < NETWORK_WAIT {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    // 3. Program the node now, without waiting for the controller's echo.
    context
        .owner
        .upsert(LocalEndpoint {
            namespace: namespace.to_string(),
            pod: pod_name.to_string(),
            container_id: a.container_id.clone(),
            interface: a.ifname.clone(),
            host_interface: Some(made.host_interface.clone()),
            mac: Some(container_mac.clone()),
            network,
            addresses: addresses.clone(),
        })
        .await;
    let mut gateways = Vec::new();
    let mut routes = Vec::new();
    if addresses.iter().any(IpAddr::is_ipv4) {
        gateways.push(POD_GATEWAY_V4.to_string());
        routes.push(RouteEntry {
            dst: "0.0.0.0/0".into(),
            gw: Some(POD_GATEWAY_V4.to_string()),
        });
    }
    if addresses.iter().any(IpAddr::is_ipv6) {
        gateways.push(POD_GATEWAY_V6.to_string());
        routes.push(RouteEntry {
            dst: "::/0".into(),
            gw: Some(POD_GATEWAY_V6.to_string()),
        });
    }
    AgentResponse::Ok {
        result: Some(AttachResult {
            host_interface: made.host_interface,
            host_mac,
            container_interface: a.ifname.clone(),
            container_mac,
            sandbox: netns.to_string(),
            addresses: addresses
                .iter()
                .map(|ip| format!("{ip}/{}", if ip.is_ipv4() { 32 } else { 128 }))
                .collect(),
            gateways,
            routes,
            mtu,
        }),
    }
}

/// Removes the interface and gives the addresses back. Succeeds when there is nothing left;
/// an endpoint that now belongs to another container (the pod's new sandbox) is left alone.
async fn del(a: &Attachment, context: &Context) -> AgentResponse {
    let (namespace, pod_name) = pod_of(a);
    let kernel = Kernel::connect().unwrap_or_else(|_| context.kernel.clone());
    if let Err(e) = pod::detach(&kernel, &a.container_id, &a.ifname).await {
        return error(
            codes::IO_FAILURE,
            format!("removing the interface of {namespace}/{pod_name}"),
            e.to_string(),
        );
    }
    let key = format!("{namespace}/{pod_name}");
    let ours = match context
        .client
        .get(Kind::WorkloadEndpoint, Some(&namespace), &pod_name)
        .await
    {
        Ok(Resource::WorkloadEndpoint(w)) => {
            w.spec.container_id == a.container_id && w.spec.node == context.config.node
        }
        Ok(_) => false,
        Err(ClientError::Api(s)) if s.reason == weft_api::wire::Reason::NotFound => false,
        Err(e) => return controller_error(&format!("releasing the addresses of {key}"), e),
    };
    if ours {
        match context
            .client
            .delete(Kind::WorkloadEndpoint, Some(&namespace), &pod_name, None)
            .await
        {
            Ok(_) => {}
            Err(ClientError::Api(s)) if s.reason == weft_api::wire::Reason::NotFound => {}
            Err(e) => return controller_error(&format!("releasing the addresses of {key}"), e),
        }
    }
    let state = context.owner.state().await;
    if state
        .endpoints
        .get(&key)
        .is_some_and(|e| e.container_id == a.container_id)
    {
        context.owner.remove(key).await;
    }
    AgentResponse::Ok { result: None }
}

async fn check(a: &Attachment, context: &Context) -> AgentResponse {
    let (namespace, pod_name) = pod_of(a);
    let state = context.owner.state().await;
    let Some(endpoint) = state
        .endpoints
        .get(&format!("{namespace}/{pod_name}"))
        .filter(|e| e.container_id == a.container_id)
    else {
        return error(
            codes::UNKNOWN_CONTAINER,
            format!("no attachment of {} on this node", a.container_id),
            "",
        );
    };
    let spec = PodSpec {
        container_id: a.container_id.clone(),
        ifname: a.ifname.clone(),
        netns: a.netns.clone().unwrap_or_default(),
        addresses: endpoint.addresses.clone(),
        mtu: context.mtu,
        mac: None,
    };
    if let Err(e) = pod::check(&context.kernel, &spec).await {
        return error(
            codes::CHECK_MISMATCH,
            format!("{namespace}/{pod_name} is not as ADD left it"),
            e.to_string(),
        );
    }
    // The node's side: the pod's routes must be in its network's table.
    let desired = weft_dataplane::plan::node_plan(&state);
    match context.kernel.observe().await {
        Ok(observed) => {
            let missing: Vec<String> = desired
                .routes
                .iter()
                .filter(|(k, t)| {
                    endpoint.addresses.iter().any(|a| k.1.addr() == *a) && observed.routes.get(*k) != Some(*t)
                })
                .map(|(k, _)| format!("route to {} in table {}", k.1, k.0))
                .collect();
            if !missing.is_empty() {
                return error(
                    codes::CHECK_MISMATCH,
                    format!("{namespace}/{pod_name}: the node is missing state"),
                    missing.join(", "),
                );
            }
        }
        Err(e) => return error(codes::IO_FAILURE, "cannot read the node's routes", e.to_string()),
    }
    AgentResponse::Ok { result: None }
}

/// Removes every attachment on this node that the runtime no longer lists.
async fn gc(_network: &str, valid: &[weft_cni::protocol::AttachmentKey], context: &Context) -> AgentResponse {
    let state = context.owner.state().await;
    for endpoint in state.endpoints.values() {
        let listed = valid
            .iter()
            .any(|v| v.container_id == endpoint.container_id && v.ifname == endpoint.interface);
        if listed {
            continue;
        }
        let attachment = Attachment {
            container_id: endpoint.container_id.clone(),
            netns: None,
            ifname: endpoint.interface.clone(),
            network: String::new(),
            pod_namespace: Some(endpoint.namespace.clone()),
            pod_name: Some(endpoint.pod.clone()),
            pod_uid: None,
            mtu: None,
        };
        if let AgentResponse::Error(e) = del(&attachment, context).await {
            return AgentResponse::Error(e);
        }
    }
    AgentResponse::Ok { result: None }
}
