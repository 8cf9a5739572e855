//! Reads `nft -j list table inet weft` back into a [`Ruleset`], written the way
//! [`super::ruleset`] writes it, so that comparing the two is the drift check. Rules are known by
//! their comment (a hash of their text); elements by their key and data in nft syntax.

use std::net::IpAddr;

use serde_json::Value;

use super::ruleset::{Chain, Hook, Rule, Ruleset, Set};

/// Parses the JSON listing of the table.
pub fn parse(json: &str) -> Result<Ruleset, String> {
    let doc: Value = serde_json::from_str(json).map_err(|e| format!("nft -j printed what is not JSON: {e}"))?;
    let items = doc
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or("nft -j printed no \"nftables\" array")?;
    let mut r = Ruleset::default();
    for item in items {
        if let Some(set) = item.get("set").or_else(|| item.get("map")) {
            let name = text(set, "name")?;
            let key: Vec<String> = match set.get("type") {
                Some(Value::String(t)) => vec![t.clone()],
                Some(Value::Array(ts)) => ts.iter().filter_map(|t| t.as_str().map(str::to_string)).collect(),
                _ => return Err(format!("set {name} without a type")),
            };
            let data = set.get("map").and_then(Value::as_str).map(str::to_string);
            let mut s = Set {
                key,
                data,
                elements: Default::default(),
                typeof_decl: None,
                interval: set
                    .get("flags")
                    .and_then(Value::as_array)
                    .is_some_and(|f| f.iter().any(|f| f == "interval")),
            };
            for e in set.get("elem").and_then(Value::as_array).into_iter().flatten() {
                let (k, d) = match (&s.data, e) {
                    (Some(_), Value::Array(pair)) if pair.len() == 2 => (&pair[0], Some(&pair[1])),
                    _ => (e, None),
                };
                let key = element_key(k, &s.key)?;
                let data = match d {
                    Some(d) => element_data(d)?,
                    None => String::new(),
                };
                s.elements.insert(key, data);
            }
            r.sets.insert(name, s);
        } else if let Some(chain) = item.get("chain") {
            let name = text(chain, "name")?;
            let hook = match (chain.get("type"), chain.get("hook"), chain.get("prio")) {
                (Some(Value::String(kind)), Some(Value::String(hook)), Some(prio)) => Some(Hook {
                    kind: kind.clone(),
                    hook: hook.clone(),
                    priority: prio.as_i64().and_then(|p| i32::try_from(p).ok()).unwrap_or(i32::MIN),
                }),
                _ => None,
            };
            // A policy other than accept is not Weft's: read it as a different hook.
            let hook = match (hook, chain.get("policy").and_then(Value::as_str)) {
                (Some(h), Some("accept") | None) => Some(h),
                (Some(mut h), Some(_)) => {
                    h.kind.push_str(" (policy changed)");
                    Some(h)
                }
                (None, _) => None,
            };
            r.chains.entry(name).or_default().hook = hook;
        } else if let Some(rule) = item.get("rule") {
            let chain = text(rule, "chain")?;
            let id = rule.get("comment").and_then(Value::as_str).unwrap_or("").to_string();
            r.chains.entry(chain).or_insert_with(Chain::default).rules.push(Rule {
                id,
                text: String::new(),
            });
        }
    }
    Ok(r)
}

fn text(v: &Value, field: &str) -> Result<String, String> {
    v.get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("nft -j: an object without \"{field}\""))
}

/// One part of a key, as [`super::ruleset`] writes it for that type.
fn atom(v: &Value, kind: &str) -> Result<String, String> {
    let bad = || format!("element part {v} is not a {kind}");
    // Interval sets: `{"prefix": {"addr": A, "len": N}}` is `A/N`, `{"range": [A, B]}` is `A-B`.
    if let Some(prefix) = v.get("prefix") {
        let addr = prefix.get("addr").ok_or_else(bad)?;
        let len = prefix.get("len").and_then(Value::as_u64).ok_or_else(bad)?;
        return Ok(format!("{}/{len}", atom(addr, kind)?));
    }
    if let Some(Value::Array(ends)) = v.get("range")
        && let [first, last] = ends.as_slice()
    {
        return Ok(format!("{}-{}", atom(first, kind)?, atom(last, kind)?));
    }
    match kind {
        "ipv4_addr" | "ipv6_addr" => v
            .as_str()
            .and_then(|s| s.parse::<IpAddr>().ok())
            .map(|a| a.to_string())
            .ok_or_else(bad),
        "inet_proto" => match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(match n.as_u64() {
                Some(6) => "tcp".into(),
                Some(17) => "udp".into(),
                Some(132) => "sctp".into(),
                _ => n.to_string(),
            }),
            _ => Err(bad()),
        },
        "inet_service" => match v {
            Value::Number(n) => Ok(n.to_string()),
            Value::String(s) => Ok(s.clone()),
            _ => Err(bad()),
        },
        "ifname" => v.as_str().map(|s| format!("\"{s}\"")).ok_or_else(bad),
        _ => Ok(v.to_string()),
    }
}

fn element_key(v: &Value, kinds: &[String]) -> Result<String, String> {
    // An element with a comment or a timeout comes wrapped: {"elem": {"val": ...}}.
    if let Some(inner) = v.get("elem").and_then(|e| e.get("val")) {
        return element_key(inner, kinds);
    }
    match v.get("concat").and_then(Value::as_array) {
        Some(parts) if parts.len() == kinds.len() => Ok(parts
            .iter()
            .zip(kinds)
            .map(|(p, k)| atom(p, k))
            .collect::<Result<Vec<_>, _>>()?
            .join(" . ")),
        Some(_) => Err(format!("element {v} does not match its set's type")),
        None => atom(v, kinds.first().map_or("", String::as_str)),
    }
}

fn element_data(v: &Value) -> Result<String, String> {
    if let Some(target) = v.get("goto").and_then(|g| g.get("target")).and_then(Value::as_str) {
        return Ok(format!("goto {target}"));
    }
    if let Some(target) = v.get("jump").and_then(|g| g.get("target")).and_then(Value::as_str) {
        return Ok(format!("jump {target}"));
    }
    if let Some(parts) = v.get("concat").and_then(Value::as_array) {
        // An endpoint: address . port.
        return Ok(parts
            .iter()
            .map(|p| match p {
                Value::String(s) => s.parse::<IpAddr>().map(|a| a.to_string()).unwrap_or_else(|_| s.clone()),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" . "));
    }
    match v {
        Value::Number(n) => Ok(n.to_string()),
        Value::String(s) => Ok(s.clone()),
        _ => Err(format!("element data {v} is of no kind Weft writes")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_nft_prints() {
        // Trimmed from `nft -j list table inet weft` (nftables 1.0.6).
        let json = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}},
 {"table": {"family": "inet", "name": "weft", "handle": 6}},
 {"map": {"family": "inet", "name": "services_1_v4", "table": "weft", "type": ["ipv4_addr", "inet_proto", "inet_service"], "handle": 6, "map": "verdict", "elem": [[{"concat": ["10.96.0.10", "tcp", 80]}, {"goto": {"target": "svc/default/web/tcp/80/v4"}}]]}},
 {"map": {"family": "inet", "name": "vip_tables_v6", "table": "weft", "type": "ipv6_addr", "handle": 8, "map": "mark", "elem": [["fd96:0::10", 1048577]]}},
 {"map": {"family": "inet", "name": "pod_tables", "table": "weft", "type": "ifname", "handle": 9, "map": "mark", "elem": [["wft0123", 1048577]]}},
 {"set": {"family": "inet", "name": "hairpin_v4", "table": "weft", "type": ["ipv4_addr", "ipv4_addr"], "handle": 9, "elem": [{"concat": ["10.244.0.1", "10.244.0.1"]}]}},
 {"chain": {"family": "inet", "table": "weft", "name": "nat_prerouting", "handle": 4, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}},
 {"chain": {"family": "inet", "table": "weft", "name": "svc/default/web/tcp/80/v4", "handle": 1}},
 {"rule": {"family": "inet", "table": "weft", "chain": "svc/default/web/tcp/80/v4", "handle": 11, "comment": "abc", "expr": []}}
]}"#;
        let r = parse(json).unwrap();
        assert_eq!(
            r.sets["services_1_v4"].elements["10.96.0.10 . tcp . 80"],
            "goto svc/default/web/tcp/80/v4"
        );
        assert_eq!(r.sets["vip_tables_v6"].elements["fd96::10"], "1048577");
        assert_eq!(r.sets["pod_tables"].elements["\"wft0123\""], "1048577");
        assert_eq!(r.sets["hairpin_v4"].elements["10.244.0.1 . 10.244.0.1"], "");
        assert_eq!(r.chains["nat_prerouting"].hook.as_ref().unwrap().priority, -100);
        assert_eq!(r.chains["svc/default/web/tcp/80/v4"].rules[0].id, "abc");
        assert!(parse("[]").is_err());
    }
}
