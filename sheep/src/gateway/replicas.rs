//! Where the gateway sends object I/O. On one node every object has exactly
//! one replica, the local store; a cluster build fans these calls out over
//! the peer protocol to the nodes placement picks. Every call runs the
//! blocking store on tokio's blocking pool.

use std::sync::Arc;

use bytes::Bytes;

use crate::store::{ObjectStore, StoreError};

/// The replica set of the objects this gateway serves.
#[derive(Clone)]
pub struct Replicas {
    store: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for Replicas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Replicas(local)")
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(StoreError::Io(std::io::Error::other(e.to_string()))))
}

impl Replicas {
    /// All objects on the local store.
    pub fn local(store: Arc<dyn ObjectStore>) -> Replicas {
        Replicas { store }
    }

    /// Creates `oid` (`full_size` bytes, zero-filled or copied from
    /// `cow_from`) with `data` at `offset`; an existing object is written.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::create_and_write`].
    pub async fn create_and_write(
        &self,
        oid: u64,
        full_size: usize,
        offset: u64,
        data: Bytes,
        cow_from: Option<u64>,
    ) -> Result<(), StoreError> {
        let s = self.store.clone();
        blocking(move || s.create_and_write(oid, full_size, offset, &data, cow_from)).await
    }

    /// Writes into an existing object.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::write`].
    pub async fn write(&self, oid: u64, offset: u64, data: Bytes) -> Result<(), StoreError> {
        let s = self.store.clone();
        blocking(move || s.write(oid, offset, &data)).await
    }

    /// Reads `len` bytes at `offset`.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::read`].
    pub async fn read(&self, oid: u64, offset: u64, len: usize) -> Result<Vec<u8>, StoreError> {
        let s = self.store.clone();
        blocking(move || s.read(oid, offset, len)).await
    }

    /// Removes an object.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::remove`].
    pub async fn remove(&self, oid: u64) -> Result<(), StoreError> {
        let s = self.store.clone();
        blocking(move || s.remove(oid)).await
    }

    /// Whether the object exists.
    pub async fn exists(&self, oid: u64) -> bool {
        let s = self.store.clone();
        blocking(move || Ok(s.exists(oid))).await.unwrap_or(false)
    }

    /// SHA-1 of an object.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::sha1`].
    pub async fn sha1(&self, oid: u64) -> Result<[u8; 20], StoreError> {
        let s = self.store.clone();
        blocking(move || s.sha1(oid)).await
    }

    /// Makes everything durable.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::flush`].
    pub async fn flush(&self) -> Result<(), StoreError> {
        let s = self.store.clone();
        blocking(move || s.flush()).await
    }
}
