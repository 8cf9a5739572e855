use weft_api::ResourceKey;

/// Why a store operation failed. The conflict variants carry what a client needs to retry.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{key} already exists")]
    AlreadyExists { key: ResourceKey },
    #[error("{key} not found")]
    NotFound { key: ResourceKey },
    #[error(
        "{key} was modified: you sent resourceVersion {sent}, it is now at {current}; get the latest version and apply your change to it"
    )]
    Conflict {
        key: ResourceKey,
        sent: String,
        current: String,
    },
    #[error("stored object {key} cannot be read: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("database: {0}")]
    Database(#[from] redb::Error),
}

/// redb has one error type per operation; they all convert into `redb::Error`.
pub(crate) fn db<E: Into<redb::Error>>(e: E) -> StoreError {
    StoreError::Database(e.into())
}
