//! The `local_*` face of [`Replicas`]: this node's store only, what the
//! peer ops (`*_PEER`) use so that a forwarded request never fans out
//! again; plus the existence, hash and flush helpers.

use super::*;

impl Replicas {
    /// Creates `oid` on the local store only.
    ///
    /// A COW source (`cow_from`) is placed independently of `oid`, so in a
    /// cluster this node often holds no copy of it: then, like sheepdog's
    /// `read_copy_from_replica`, the source is read from its replicas and
    /// the object is created from that copy with `data` laid over it.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::create_and_write`].
    pub async fn local_create_and_write(
        &self,
        owner: &Node,
        oid: u64,
        full_size: usize,
        offset: u64,
        data: Bytes,
        cow_from: Option<u64>,
    ) -> Result<(), ReplicaError> {
        let s = self.store.clone();
        let d = data.clone();
        let r = blocking(move || s.create_and_write(oid, full_size, offset, &d, cow_from)).await;
        match (r, cow_from) {
            (Err(StoreError::NoObj(missing)), Some(src))
                if missing == src && self.view().is_some() =>
            {
                let mut full = self.read(owner, src, 0, full_size).await?;
                full.resize(full_size, 0);
                let at = usize::try_from(offset).unwrap_or(usize::MAX);
                let end = at.saturating_add(data.len());
                if end > full_size {
                    return Err(StoreError::OutOfRange {
                        oid,
                        offset,
                        len: data.len() as u64,
                        size: full_size as u64,
                    }
                    .into());
                }
                full[at..end].copy_from_slice(&data);
                let s = self.store.clone();
                Ok(blocking(move || s.create_and_write(oid, full_size, 0, &full, None)).await?)
            }
            (r, _) => Ok(r?),
        }
    }

    /// Writes into an existing object of the local store.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::write`].
    pub async fn local_write(&self, oid: u64, offset: u64, data: Bytes) -> Result<(), StoreError> {
        let s = self.store.clone();
        blocking(move || s.write(oid, offset, &data)).await
    }

    /// Reads from the local store.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::read`].
    pub async fn local_read(
        &self,
        oid: u64,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>, StoreError> {
        let s = self.store.clone();
        blocking(move || s.read(oid, offset, len)).await
    }

    /// Reads from the local store: with `file_range`, as a range of the
    /// object file where the store keeps one, else into memory.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::read`].
    pub async fn local_read_data(
        &self,
        oid: u64,
        offset: u64,
        len: usize,
        file_range: bool,
    ) -> Result<ObjData, StoreError> {
        if file_range {
            if let Some(r) = self.local_read_range(oid, offset, len).await? {
                return Ok(ObjData::File(r));
            }
        }
        Ok(ObjData::Mem(
            self.local_read(oid, offset, len).await?.into(),
        ))
    }

    /// A range of the local object file (see [`ObjectStore::read_range`]).
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::read_range`].
    pub async fn local_read_range(
        &self,
        oid: u64,
        offset: u64,
        len: usize,
    ) -> Result<Option<FileRange>, StoreError> {
        let s = self.store.clone();
        blocking(move || s.read_range(oid, offset, len)).await
    }

    /// Removes an object from the local store.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::remove`].
    pub async fn local_remove(&self, oid: u64) -> Result<(), StoreError> {
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
