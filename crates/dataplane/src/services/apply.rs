//! Runs `nft` in the node's network namespace: reads Weft's table, applies a script as one
//! transaction. The process is started from a thread inside the namespace, so it lands there.

use std::io::Write;
use std::process::{Command, Stdio};

use weft_api::sync::NodeState;

use super::observe;
use super::ruleset::{self, Ruleset};
use crate::Kernel;
use crate::marks::NFT_TABLE;

#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("cannot run nft ({reason}); install nftables (apt-get install nftables)")]
    Run { reason: String },
    #[error("nft {command} failed: {stderr}")]
    Failed { command: String, stderr: String },
    #[error("cannot read `nft -j list table inet {NFT_TABLE}`: {reason}")]
    Parse { reason: String },
    #[error("{0}")]
    Netns(String),
}

/// What one reconciliation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Lines of the script (0: the table already matched).
    pub commands: usize,
    /// The incremental script failed and the table was rebuilt whole.
    pub rebuilt: bool,
}

/// `nft` inside one node.
#[derive(Clone)]
pub struct Nft {
    kernel: Kernel,
}

impl Nft {
    pub fn new(kernel: Kernel) -> Nft {
        Nft { kernel }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<std::process::Output, NftError> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let input = stdin.map(str::to_string);
        self.kernel
            .run_inside(move || -> Result<std::process::Output, NftError> {
                let mut child = Command::new("nft")
                    .args(&args)
                    .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|e| NftError::Run { reason: e.to_string() })?;
                if let (Some(text), Some(mut pipe)) = (input, child.stdin.take()) {
                    pipe.write_all(text.as_bytes())
                        .map_err(|e| NftError::Run { reason: e.to_string() })?;
                }
                child
                    .wait_with_output()
                    .map_err(|e| NftError::Run { reason: e.to_string() })
            })
            .map_err(|e| NftError::Netns(e.to_string()))?
    }

    /// Weft's table as the kernel holds it; `None` if there is none.
    pub fn observe(&self) -> Result<Option<Ruleset>, NftError> {
        let out = self.run(&["-j", "list", "table", "inet", NFT_TABLE], None)?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr).to_string();
            if stderr.contains("No such file or directory") {
                return Ok(None);
            }
            return Err(NftError::Failed {
                command: format!("-j list table inet {NFT_TABLE}"),
                stderr,
            });
        }
        observe::parse(&String::from_utf8_lossy(&out.stdout))
            .map(Some)
            .map_err(|reason| NftError::Parse { reason })
    }

    /// Applies a script in one transaction: all of it or nothing.
    pub fn apply(&self, script: &str) -> Result<(), NftError> {
        let out = self.run(&["-f", "-"], Some(script))?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(NftError::Failed {
            command: format!("-f ({} commands)", script.lines().count()),
            // The first errors say enough; a 10,000-line script's echo does not help.
            stderr: stderr.lines().take(6).collect::<Vec<_>>().join("\n"),
        })
    }

    /// Makes Weft's table what `state` asks for (see [`Nft::sync`]).
    pub fn reconcile(&self, state: &NodeState, removals: bool) -> Result<Applied, NftError> {
        self.sync(ruleset::ruleset(state).as_ref(), None, removals)
    }

    /// Makes Weft's table `desired`. `known` is what the table holds when the caller knows it
    /// (the last ruleset it applied), which saves reading a large table back; otherwise it is
    /// read. Without `removals` (before the controller's state is complete) nothing is deleted.
    /// If the difference does not apply (the table changed underneath), it is computed again
    /// from the table as read, and failing that the table is rebuilt whole; every attempt is
    /// one transaction.
    pub fn sync(
        &self,
        desired: Option<&Ruleset>,
        known: Option<&Option<Ruleset>>,
        removals: bool,
    ) -> Result<Applied, NftError> {
        let read;
        let observed = match known {
            Some(k) => k.as_ref(),
            None => {
                read = self.observe()?;
                read.as_ref()
            }
        };
        let Some(script) = ruleset::script(desired, observed, removals) else {
            return Ok(Applied::default());
        };
        let first = match self.apply(&script) {
            Ok(()) => {
                return Ok(Applied {
                    commands: script.lines().count(),
                    rebuilt: false,
                });
            }
            Err(e) => e,
        };
        if known.is_some() {
            tracing::debug!(error = %first, "nftables change failed against the remembered table; reading it");
            return self.sync(desired, None, removals);
        }
        let Some(desired) = desired else {
            return Err(first);
        };
        tracing::warn!(error = %first, "nftables change failed; rebuilding table inet {NFT_TABLE}");
        // Against an empty table the script is a whole rebuild (add, delete, add table).
        let rebuild = ruleset::script(Some(desired), Some(&Ruleset::default()), true).unwrap_or_default();
        self.apply(&rebuild)?;
        Ok(Applied {
            commands: rebuild.lines().count(),
            rebuilt: true,
        })
    }
}
