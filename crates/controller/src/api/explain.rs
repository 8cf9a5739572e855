//! `GET /api/v1/explain/{namespace}/{pod}[?to=NS/POD|IP&port=N&protocol=tcp|udp|sctp]`: which
//! NetworkPolicies select a pod and what they allow, and why a connection from it is allowed or
//! denied, from the store's objects by the reference semantics (`weft_policy::evaluate`): the
//! same objects the nodes' sets are compiled from.

use std::net::IpAddr;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use weft_api::wire::{ConnectionExplanation, PolicyExplanation, Reason};
use weft_api::{Kind, Resource};
use weft_policy::{Connection, Decision, Endpoint, Input, Key, Protocol, Traffic};

use super::ApiError;
use crate::state::policy_view::{self, Objects};
use crate::state::{Command, Handle};

#[derive(Debug, Deserialize, Default)]
pub(super) struct Params {
    /// `namespace/pod` or an address.
    to: Option<String>,
    port: Option<u16>,
    protocol: Option<String>,
}

async fn list(h: &Handle, kind: Kind) -> Result<Vec<Resource>, ApiError> {
    Ok(h.call(|reply| Command::List {
        kind,
        namespace: None,
        reply,
    })
    .await?
    .1)
}

pub(super) async fn explain(
    State(h): State<Handle>,
    Path((namespace, pod)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Result<Json<PolicyExplanation>, ApiError> {
    let mut stored = Vec::new();
    for kind in [Kind::Namespace, Kind::Pod, Kind::NetworkPolicy, Kind::WorkloadEndpoint] {
        stored.extend(list(&h, kind).await?);
    }
    let mut objects = Objects::default();
    for r in &stored {
        match r {
            Resource::Namespace(n) => objects.namespaces.push(n),
            Resource::Pod(p) => objects.pods.push(p),
            Resource::NetworkPolicy(p) => objects.policies.push(p),
            Resource::WorkloadEndpoint(w) => objects.endpoints.push(w),
            _ => {}
        }
    }
    let input = policy_view::input(&objects).map_err(|errors| {
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        ApiError::new(
            Reason::Invalid,
            format!("the stored objects do not compile; fix them: {}", text.join("; ")),
        )
    })?;
    let key = Key::new(&namespace, &pod);
    let Some(info) = input.pod(&key) else {
        return Err(ApiError::new(
            Reason::NotFound,
            format!("no pod {namespace}/{pod} (see `weft get pods -n {namespace}`)"),
        ));
    };
    let selecting: Vec<_> = input.selecting(info).collect();
    let mut out = PolicyExplanation {
        pod: format!("{namespace}/{pod}"),
        addresses: info.addresses.clone(),
        policies: selecting.iter().map(|p| p.key.to_string()).collect(),
        ingress_isolated: selecting.iter().any(|p| p.ingress.is_some()),
        egress_isolated: selecting.iter().any(|p| p.egress.is_some()),
        text: weft_policy::explain_pod(&input, &key),
        connection: None,
    };
    if let Some(to) = &params.to {
        let source_address = info.addresses.first().copied();
        out.connection = Some(connection(&input, &key, source_address, to, &params)?);
    }
    Ok(Json(out))
}

fn connection(
    input: &Input,
    from: &Key,
    from_address: Option<IpAddr>,
    to: &str,
    params: &Params,
) -> Result<ConnectionExplanation, ApiError> {
    let bad = |m: String| ApiError::new(Reason::BadRequest, m);
    let protocol = match params.protocol.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("tcp") => Protocol::Tcp,
        Some("udp") => Protocol::Udp,
        Some("sctp") => Protocol::Sctp,
        Some(other) => return Err(bad(format!("protocol {other:?}: use tcp, udp or sctp"))),
    };
    let traffic = match params.port {
        Some(port) => Traffic::Port { protocol, port },
        // No port: what rules without ports allow (ICMP stands for every other protocol).
        None => Traffic::Other { ip_protocol: 1 },
    };
    let dst = match to.parse::<IpAddr>() {
        Ok(address) => match input.pod_at(address) {
            Some(p) => Endpoint::pod(p.key.clone(), address),
            None => Endpoint::outside(address),
        },
        Err(_) => {
            let (ns, name) = to
                .split_once('/')
                .ok_or_else(|| bad(format!("to={to:?}: write NAMESPACE/POD or an IP address")))?;
            let key = Key::new(ns, name);
            let target = input
                .pod(&key)
                .ok_or_else(|| ApiError::new(Reason::NotFound, format!("no pod {to} to connect to")))?;
            // The same family as the source when both have one.
            let address = target
                .addresses
                .iter()
                .find(|a| from_address.is_none_or(|f| f.is_ipv4() == a.is_ipv4()))
                .or(target.addresses.first())
                .copied()
                .ok_or_else(|| bad(format!("pod {to} has no address yet")))?;
            Endpoint::pod(key, address)
        }
    };
    let src_address = from_address
        .into_iter()
        .chain(input.pod(from).into_iter().flat_map(|p| p.addresses.iter().copied()))
        .find(|a| a.is_ipv4() == dst.address.is_ipv4())
        .ok_or_else(|| bad(format!("pod {from} has no address of {}'s family", dst.address)))?;
    let c = Connection {
        src: Endpoint::pod(from.clone(), src_address),
        dst,
        traffic,
    };
    let verdict = weft_policy::evaluate(input, &c);
    let allowed_by = [&verdict.egress, &verdict.ingress]
        .into_iter()
        .flat_map(Decision::allowed_by)
        .map(ToString::to_string)
        .collect();
    Ok(ConnectionExplanation {
        from: c.src.to_string(),
        to: c.dst.to_string(),
        traffic: c.traffic.to_string(),
        allowed: verdict.allowed,
        egress_allowed: verdict.egress.allows(),
        ingress_allowed: verdict.ingress.allows(),
        allowed_by,
        text: weft_policy::explain_connection(input, &c),
    })
}
