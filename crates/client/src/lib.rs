//! A typed client for the controller's HTTP API, used by the CLI (and by agents later).

mod error;
mod watch;

pub use error::ClientError;

use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use weft_api::sync::SyncMessage;
use weft_api::wire::{
    AllocationInfo, ApplyResult, BgpPeerInfo, BgpRouteInfo, List, PodAddresses, PoolInfo, ReleaseRequest, Released,
    Status, VersionInfo, WatchEvent,
};
use weft_api::{Kind, Resource, manifest};

/// A connection to one controller.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    server: String,
}

impl Client {
    /// `server` is the controller's base URL, e.g. `http://127.0.0.1:7420`.
    pub fn new(server: &str) -> Result<Client, ClientError> {
        let server = server.trim_end_matches('/').to_string();
        if !server.starts_with("http://") {
            return Err(ClientError::BadServer(server));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ClientError::BadServer(format!("{server}: {e}")))?;
        Ok(Client { http, server })
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.server))
    }

    async fn send<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T, ClientError> {
        let response = req
            .send()
            .await
            .map_err(|e| ClientError::unreachable(&self.server, e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::unreachable(&self.server, e))?;
        if status.is_success() {
            serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))
        } else {
            Err(match serde_json::from_slice::<Status>(&bytes) {
                Ok(s) => ClientError::Api(Box::new(s)),
                Err(_) => ClientError::Decode(format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes))),
            })
        }
    }

    fn ns_query(namespace: Option<&str>) -> Vec<(&'static str, String)> {
        namespace
            .map(|ns| vec![("namespace", ns.to_string())])
            .unwrap_or_default()
    }

    pub async fn version(&self) -> Result<VersionInfo, ClientError> {
        self.send(self.request(Method::GET, "/version")).await
    }

    /// Creates or updates an object; with `create_only`, fails if it exists.
    pub async fn apply(&self, resource: &Resource, create_only: bool) -> Result<ApplyResult, ClientError> {
        let mut req = self.request(Method::POST, "/api/v1/apply").json(resource);
        if create_only {
            req = req.query(&[("create", "true")]);
        }
        self.send(req).await
    }

    pub async fn get(&self, kind: Kind, namespace: Option<&str>, name: &str) -> Result<Resource, ClientError> {
        let path = format!("/api/v1/{}/{name}", kind.plural());
        let value: serde_json::Value = self
            .send(self.request(Method::GET, &path).query(&Self::ns_query(namespace)))
            .await?;
        decode(value)
    }

    /// Objects of a kind in a namespace, or in all namespaces with `None`; and the revision the
    /// list was read at.
    pub async fn list(&self, kind: Kind, namespace: Option<&str>) -> Result<(u64, Vec<Resource>), ClientError> {
        let path = format!("/api/v1/{}", kind.plural());
        let list: List = self
            .send(self.request(Method::GET, &path).query(&Self::ns_query(namespace)))
            .await?;
        let revision = list.metadata.resource_version.parse().unwrap_or(0);
        let items = list.items.into_iter().map(decode).collect::<Result<_, _>>()?;
        Ok((revision, items))
    }

    pub async fn delete(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        name: &str,
        resource_version: Option<&str>,
    ) -> Result<Resource, ClientError> {
        let path = format!("/api/v1/{}/{name}", kind.plural());
        let mut query = Self::ns_query(namespace);
        if let Some(rv) = resource_version {
            query.push(("resourceVersion", rv.to_string()));
        }
        let result: ApplyResult = self.send(self.request(Method::DELETE, &path).query(&query)).await?;
        decode(result.object)
    }

    /// Changes to a kind: the current objects as ADDED (or the changes after `since`), then
    /// every change as it happens.
    pub async fn watch(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        since: Option<u64>,
    ) -> Result<impl futures::Stream<Item = Result<WatchEvent, ClientError>> + use<>, ClientError> {
        let path = format!("/api/v1/{}", kind.plural());
        let mut query = Self::ns_query(namespace);
        query.push(("watch", "true".into()));
        if let Some(rv) = since {
            query.push(("resourceVersion", rv.to_string()));
        }
        let response = self
            .request(Method::GET, &path)
            .query(&query)
            .send()
            .await
            .map_err(|e| ClientError::unreachable(&self.server, e))?;
        watch::lines(response, self.server.clone()).await
    }

    /// A node's state from the controller: snapshot, in-sync, then deltas and heartbeats.
    pub async fn sync(
        &self,
        node: &str,
    ) -> Result<impl futures::Stream<Item = Result<SyncMessage, ClientError>> + use<>, ClientError> {
        let response = self
            .request(Method::GET, &format!("/api/v1/nodes/{node}/sync"))
            .send()
            .await
            .map_err(|e| ClientError::unreachable(&self.server, e))?;
        watch::lines(response, self.server.clone()).await
    }

    /// Every Service with its ready endpoints (`GET /api/v1/endpoints`), of one namespace or all.
    pub async fn endpoints(&self, namespace: Option<&str>) -> Result<Vec<weft_api::sync::ServiceState>, ClientError> {
        let path = match namespace {
            Some(ns) => format!("/api/v1/endpoints?namespace={ns}"),
            None => "/api/v1/endpoints".to_string(),
        };
        self.send(self.request(Method::GET, &path)).await
    }

    /// Which NetworkPolicies select a pod, and with `to` why a connection from it to a pod
    /// (`NAMESPACE/POD`) or an address is allowed (`GET /api/v1/explain/{namespace}/{pod}`).
    pub async fn explain(
        &self,
        namespace: &str,
        pod: &str,
        to: Option<&str>,
        port: Option<u16>,
        protocol: Option<&str>,
    ) -> Result<weft_api::wire::PolicyExplanation, ClientError> {
        let mut query = Vec::new();
        if let Some(to) = to {
            query.push(format!(
                "to={}",
                to.replace('%', "%25").replace(':', "%3A").replace('/', "%2F")
            ));
        }
        if let Some(port) = port {
            query.push(format!("port={port}"));
        }
        if let Some(protocol) = protocol {
            query.push(format!("protocol={protocol}"));
        }
        let mut path = format!("/api/v1/explain/{namespace}/{pod}");
        if !query.is_empty() {
            path = format!("{path}?{}", query.join("&"));
        }
        self.send(self.request(Method::GET, &path)).await
    }

    /// The controller's BGP sessions (`GET /api/v1/bgp/peers`).
    pub async fn bgp_peers(&self) -> Result<Vec<BgpPeerInfo>, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/bgp/peers")).await
    }

    /// The speaker's best routes, of one family (`ipv4-unicast`, `l2vpn-evpn`, ...) or all.
    pub async fn bgp_routes(&self, family: Option<&str>) -> Result<Vec<BgpRouteInfo>, ClientError> {
        let path = match family {
            Some(f) => format!("/api/v1/bgp/routes?family={f}"),
            None => "/api/v1/bgp/routes".to_string(),
        };
        self.send(self.request(Method::GET, &path)).await
    }

    /// Every path of the speaker's RIB, the best one of each destination first (`best: true`).
    pub async fn bgp_paths(&self, family: Option<&str>) -> Result<Vec<BgpRouteInfo>, ClientError> {
        let path = match family {
            Some(f) => format!("/api/v1/bgp/routes?paths=all&family={f}"),
            None => "/api/v1/bgp/routes?paths=all".to_string(),
        };
        self.send(self.request(Method::GET, &path)).await
    }

    pub async fn pools(&self) -> Result<Vec<PoolInfo>, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/ipam/pools")).await
    }

    pub async fn allocations(&self) -> Result<Vec<AllocationInfo>, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/ipam/allocations")).await
    }

    pub async fn allocate_pod(&self, namespace: &str, name: &str) -> Result<PodAddresses, ClientError> {
        self.send(self.request(Method::POST, &format!("/api/v1/ipam/pods/{namespace}/{name}")))
            .await
    }

    pub async fn release(&self, owner: &str) -> Result<Released, ClientError> {
        let body = ReleaseRequest {
            owner: owner.to_string(),
        };
        self.send(self.request(Method::POST, "/api/v1/ipam/release").json(&body))
            .await
    }

    pub async fn collect_garbage(&self) -> Result<Released, ClientError> {
        self.send(self.request(Method::POST, "/api/v1/ipam/gc")).await
    }
}

/// Objects from the controller are trusted to be valid; they still go through the typed decoder.
pub fn decode(value: serde_json::Value) -> Result<Resource, ClientError> {
    manifest::decode(value).map_err(|e| ClientError::Decode(e.to_string()))
}
