use anyhow::Result;

use super::Target;
use super::manifests;
use crate::args::{ApplyArgs, OutputFormat};
use crate::exit::{self, Exit};
use crate::output;

/// `weft apply -f`: every object is sent; one failing does not stop the others (as kubectl), and
/// the exit code is that of the first failure.
pub async fn run(target: Target, args: ApplyArgs) -> Result<u8> {
    let mut objects = manifests::load(&args.files, args.recursive, &target.namespace, target.namespace_given)?;
    manifests::dependency_order(&mut objects);
    if objects.is_empty() {
        return Err(Exit::new(exit::INVALID, "no objects in the given manifests").into());
    }
    let mut code = exit::OK;
    let mut applied = Vec::new();
    for object in &objects {
        if args.dry_run {
            println!("{} configured (dry run)", output::object_name(object));
            continue;
        }
        match target.client.apply(object, false).await {
            Ok(result) => {
                let outcome = serde_json::to_value(result.outcome)?;
                if args.output.is_none() {
                    println!(
                        "{} {}",
                        output::object_name(object),
                        outcome.as_str().unwrap_or_default()
                    );
                }
                applied.push(weft_client::decode(result.object)?);
            }
            Err(e) => {
                let e = Exit::from(e);
                eprintln!("error: {}: {}", output::object_name(object), e.message);
                if e.code == exit::UNREACHABLE {
                    return Err(e.into());
                }
                if code == exit::OK {
                    code = e.code;
                }
            }
        }
    }
    match args.output {
        Some(OutputFormat::Json) => output::print_json(&output::list_value(&applied, true))?,
        Some(OutputFormat::Yaml) => output::print_yaml(&output::list_value(&applied, true))?,
        Some(OutputFormat::Name) => applied.iter().for_each(|o| println!("{}", output::object_name(o))),
        Some(OutputFormat::Table | OutputFormat::Wide) | None => {}
    }
    Ok(code)
}
