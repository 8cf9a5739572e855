use anyhow::Result;
use weft_api::Kind;

use super::{Target, manifests};
use crate::args::DeleteArgs;
use crate::exit::{self, Exit};
use crate::output;

/// `weft delete KIND NAME...` or `weft delete -f FILE`.
pub async fn run(target: Target, args: DeleteArgs) -> Result<u8> {
    let mut keys: Vec<(Kind, Option<String>, String)> = Vec::new();
    if !args.files.is_empty() {
        if args.kind.is_some() {
            return Err(Exit::new(exit::USAGE, "give either -f FILE or KIND NAME, not both").into());
        }
        let mut objects = manifests::load(&args.files, args.recursive, &target.namespace, target.namespace_given)?;
        // Dependents first: the reverse of the order they are applied in.
        manifests::dependency_order(&mut objects);
        objects.reverse();
        keys = objects
            .iter()
            .map(|o| (o.kind(), o.meta().namespace.clone(), o.name().to_string()))
            .collect();
    } else {
        let Some(kind) = &args.kind else {
            return Err(Exit::new(
                exit::USAGE,
                "say what to delete: weft delete KIND NAME... or weft delete -f FILE",
            )
            .into());
        };
        let kind: Kind = kind
            .parse()
            .map_err(|e: weft_api::UnknownKind| Exit::new(exit::USAGE, e.to_string()))?;
        if args.names.is_empty() {
            return Err(Exit::new(
                exit::USAGE,
                format!(
                    "name the {} to delete: weft delete {} NAME",
                    kind.plural(),
                    kind.plural()
                ),
            )
            .into());
        }
        for name in &args.names {
            keys.push((kind, Some(target.namespace.clone()), name.clone()));
        }
    }
    let mut code = exit::OK;
    for (kind, namespace, name) in keys {
        let namespace = namespace.filter(|_| kind.namespaced());
        match target.client.delete(kind, namespace.as_deref(), &name, None).await {
            Ok(deleted) => println!("{} deleted", output::object_name(&deleted)),
            Err(e) => {
                let e = Exit::from(e);
                if e.code == exit::NOT_FOUND && args.ignore_not_found {
                    continue;
                }
                eprintln!("error: {}", e.message);
                if e.code == exit::UNREACHABLE {
                    return Ok(e.code);
                }
                if code == exit::OK {
                    code = e.code;
                }
            }
        }
    }
    Ok(code)
}
