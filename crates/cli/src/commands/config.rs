use anyhow::Result;

use crate::args::ConfigCommand;
use crate::config::{self as cfg, Config, Context};
use crate::exit::{self, Exit};
use crate::output::Table;

pub fn run(context_flag: &Option<String>, command: ConfigCommand) -> Result<u8> {
    let path = cfg::path();
    let mut config = Config::load(&path)?;
    match command {
        ConfigCommand::View => print!("{}", serde_yaml_ng::to_string(&config)?),
        ConfigCommand::GetContexts => {
            let mut t = Table::new(&["CURRENT", "NAME", "SERVER", "NAMESPACE"]);
            for c in &config.contexts {
                let current = if config.current_context.as_deref() == Some(c.name.as_str()) {
                    "*"
                } else {
                    ""
                };
                t.row(vec![
                    current.into(),
                    c.name.clone(),
                    c.server.clone(),
                    c.namespace.clone().unwrap_or_default(),
                ]);
            }
            print!("{}", t.render());
        }
        ConfigCommand::CurrentContext => match context_flag.as_ref().or(config.current_context.as_ref()) {
            Some(name) => println!("{name}"),
            None => {
                return Err(Exit::new(
                    exit::NOT_FOUND,
                    "current-context is not set; see `weft config set-context --help`",
                )
                .into());
            }
        },
        ConfigCommand::UseContext { name } => {
            if config.context(&name).is_none() {
                return Err(Exit::new(
                    exit::NOT_FOUND,
                    format!("no context {name:?}; see `weft config get-contexts`"),
                )
                .into());
            }
            config.current_context = Some(name.clone());
            config.save(&path)?;
            println!("Switched to context {name:?}.");
        }
        ConfigCommand::SetContext {
            name,
            server,
            default_namespace,
            use_it,
        } => {
            weft_client::Client::new(&server).map_err(Exit::from)?;
            let existed = config.context(&name).is_some();
            config.set(Context {
                name: name.clone(),
                server,
                namespace: default_namespace,
            });
            if use_it || config.current_context.is_none() {
                config.current_context = Some(name.clone());
            }
            config.save(&path)?;
            println!("Context {name:?} {}.", if existed { "modified" } else { "created" });
        }
        ConfigCommand::DeleteContext { name } => {
            let before = config.contexts.len();
            config.contexts.retain(|c| c.name != name);
            if config.contexts.len() == before {
                return Err(Exit::new(exit::NOT_FOUND, format!("no context {name:?}")).into());
            }
            if config.current_context.as_deref() == Some(name.as_str()) {
                config.current_context = None;
            }
            config.save(&path)?;
            println!("Deleted context {name:?}.");
        }
    }
    Ok(exit::OK)
}
