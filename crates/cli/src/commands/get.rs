use std::collections::BTreeMap;

use anyhow::Result;
use futures::StreamExt;
use weft_api::{Kind, Resource};

use super::{Target, routes};
use crate::args::{GetArgs, OutputFormat};
use crate::exit::{self, Exit};
use crate::output;

pub async fn run(target: Target, args: GetArgs) -> Result<u8> {
    if matches!(args.kind.as_str(), "routes" | "route") {
        return get_routes(&target, &args).await;
    }
    if matches!(args.kind.as_str(), "endpoints" | "endpoint" | "ep") {
        return super::endpoints::get(&target, &args).await;
    }
    if args.family.is_some() || args.vn.is_some() {
        return Err(Exit::new(exit::USAGE, "--family and --vn apply to `weft get routes` only").into());
    }
    let kind: Kind = args
        .kind
        .parse()
        .map_err(|e: weft_api::UnknownKind| Exit::new(exit::USAGE, e.to_string()))?;
    let selector = args.selector.as_deref().map(Selector::parse).transpose()?;
    let namespace = (!args.all_namespaces).then_some(target.namespace.as_str());
    let mut code = exit::OK;
    let (revision, mut items) = if args.names.is_empty() {
        target.client.list(kind, namespace).await.map_err(Exit::from)?
    } else {
        let mut found = Vec::new();
        for name in &args.names {
            match target.client.get(kind, Some(&target.namespace), name).await {
                Ok(r) => found.push(r),
                Err(e) => {
                    let e = Exit::from(e);
                    eprintln!("error: {}", e.message);
                    code = e.code;
                }
            }
        }
        (0, found)
    };
    if let Some(s) = &selector {
        items.retain(|r| s.matches(r));
    }
    if !args.names.is_empty() && items.is_empty() {
        // Every named object failed; the errors are printed, there is nothing to show.
        return Ok(code);
    }
    let single = args.names.len() == 1;
    match args.output {
        OutputFormat::Json => output::print_json(&output::list_value(&items, single))?,
        OutputFormat::Yaml => output::print_yaml(&output::list_value(&items, single))?,
        OutputFormat::Name => items.iter().for_each(|r| println!("{}", output::object_name(r))),
        OutputFormat::Table | OutputFormat::Wide => {
            if kind == Kind::BGPPeer {
                live_bgp_status(&target, &mut items).await;
            }
            let table = output::columns::table(kind, &items, args.output == OutputFormat::Wide, args.all_namespaces);
            if table.is_empty() && code == exit::OK && !args.watch {
                match namespace {
                    Some(ns) if kind.namespaced() => {
                        eprintln!("No resources found in {ns} namespace.")
                    }
                    _ => eprintln!("No resources found"),
                }
            } else if !table.is_empty() {
                print!("{}", table.render());
            }
        }
    }
    if args.watch {
        watch(&target, kind, namespace, revision, &args, selector.as_ref()).await?;
    }
    Ok(code)
}

/// `weft get routes [--family F] [--vn VN] [PREFIX]`: every path of the speaker's RIB, as a
/// table with the best path of each destination marked `*>`, or (with a PREFIX, or `-o wide`)
/// in detail like FRR's `show bgp PREFIX`.
async fn get_routes(target: &Target, args: &GetArgs) -> Result<u8> {
    if args.names.len() > 1 {
        return Err(Exit::new(exit::USAGE, "weft get routes takes at most one PREFIX").into());
    }
    if args.watch || args.selector.is_some() {
        return Err(Exit::new(exit::USAGE, "-w and -l do not apply to routes").into());
    }
    let prefix = args.names.first().map(String::as_str);
    let query = routes::Query {
        family: args.family.as_deref(),
        prefix,
        vn: args.vn.as_deref(),
        all_paths: true,
    };
    let paths = routes::fetch(&target.client, &query).await?;
    if super::bgp::structured(args.output, &paths)? {
        return Ok(exit::OK);
    }
    if paths.is_empty() {
        eprintln!("No routes");
    } else if prefix.is_some() || args.output == OutputFormat::Wide {
        print!("{}", routes::detail(&paths));
    } else {
        print!("{}", routes::table(&paths, true, false).render());
    }
    Ok(exit::OK)
}

/// Prints each change after the listed revision as a row (or JSON line) until interrupted.
async fn watch(
    target: &Target,
    kind: Kind,
    namespace: Option<&str>,
    revision: u64,
    args: &GetArgs,
    selector: Option<&Selector>,
) -> Result<()> {
    let mut events = Box::pin(
        target
            .client
            .watch(kind, namespace, Some(revision))
            .await
            .map_err(Exit::from)?,
    );
    while let Some(event) = events.next().await {
        let event = event.map_err(Exit::from)?;
        if event.kind == "ERROR" {
            return Err(Exit::new(exit::FAILURE, format!("watch ended: {}", event.object)).into());
        }
        let resource = weft_client::decode(event.object)?;
        if selector.is_some_and(|s| !s.matches(&resource)) {
            continue;
        }
        match args.output {
            OutputFormat::Json => println!(
                "{}",
                serde_json::json!({"type": event.kind, "object": resource.to_value()})
            ),
            OutputFormat::Name => println!("{} {}", event.kind, output::object_name(&resource)),
            _ => {
                let table = output::columns::table(
                    kind,
                    std::slice::from_ref(&resource),
                    args.output == OutputFormat::Wide,
                    args.all_namespaces,
                );
                let rendered = table.render();
                let row = rendered.lines().nth(1).unwrap_or_default();
                println!("{:<9}{row}", event.kind);
            }
        }
    }
    Ok(())
}

/// A label selector in kubectl's `-l` syntax: `k=v`, `k==v`, `k!=v`, `k`, `!k`, comma-separated.
pub struct Selector(Vec<Term>);

enum Term {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    Absent(String),
}

impl Selector {
    pub fn parse(text: &str) -> Result<Selector> {
        let mut terms = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let term = if let Some((k, v)) = part.split_once("!=") {
                Term::NotEquals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Term::Equals(k.trim().into(), v.trim().into())
            } else if let Some(k) = part.strip_prefix('!') {
                Term::Absent(k.trim().into())
            } else if part.contains(' ') {
                return Err(Exit::new(
                    exit::USAGE,
                    format!("-l {text:?}: {part:?} is not supported; use k=v, k!=v, k or !k"),
                )
                .into());
            } else {
                Term::Exists(part.into())
            };
            terms.push(term);
        }
        Ok(Selector(terms))
    }

    pub fn matches(&self, resource: &Resource) -> bool {
        let empty = BTreeMap::new();
        let labels = resource.meta().labels.as_ref().unwrap_or(&empty);
        self.0.iter().all(|t| match t {
            Term::Equals(k, v) => labels.get(k) == Some(v),
            Term::NotEquals(k, v) => labels.get(k) != Some(v),
            Term::Exists(k) => labels.contains_key(k),
            Term::Absent(k) => !labels.contains_key(k),
        })
    }
}

/// Fills BGPPeers' STATE (with the uptime) and last error from the controller's speaker, when it
/// runs; the stored status otherwise.
async fn live_bgp_status(target: &Target, items: &mut [Resource]) {
    let Ok(live) = target.client.bgp_peers().await else {
        return;
    };
    for item in items {
        let Resource::BGPPeer(p) = item else { continue };
        let name = p.metadata.name.clone().unwrap_or_default();
        let Some(l) = live.iter().find(|l| l.name == name) else {
            continue;
        };
        let status = p.status.get_or_insert_with(Default::default);
        status.state = Some(match l.uptime_seconds {
            Some(s) => format!("{} {}", l.state, super::bgp::uptime(s)),
            None => l.state.clone(),
        });
        status.last_error = l.last_error.clone();
    }
}
