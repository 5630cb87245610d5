//! `vdi read` and `vdi write`: the pipelined data transfers (and the C
//! dog's one-request-at-a-time pattern with `--inflight 1`), kept apart
//! from the other verbs for their size.

use super::*;

impl Dog<'_> {
    /// The inode `vid` for a transfer of `len` bytes (to the end when
    /// `None`) at `off`, and that length.
    ///
    /// The C dog reads the whole 12.5 MB inode for every `vdi read` and
    /// `vdi write`; so does `--inflight 1`, and so does a transfer that
    /// stays inside one object of the smallest size sheepdog allows (1 MiB),
    /// which keeps the golden traces' request sequences. A pipelined
    /// transfer that may span objects reads the header and only the index
    /// entries of its objects (about 25 ms less per command here).
    pub(super) async fn transfer_inode(
        &self,
        c: &Client,
        vid: u32,
        off: u64,
        len: Option<u64>,
    ) -> Result<(Inode, u64), DogError> {
        let one_small_object = len.is_some_and(|l| l == 0 || off >> 20 == (off + l - 1) >> 20);
        let mut ino = if self.inflight == 1 || one_small_object {
            let b = read_obj(c, inode_oid(vid), 0, INODE_SIZE, DIRECT).await?;
            Inode::full(&b)?
        } else {
            let b = read_obj(c, inode_oid(vid), 0, HDR_SIZE, DIRECT).await?;
            Inode::header(&b)?
        };
        ino.vid = vid;
        let len = len.unwrap_or(ino.size.saturating_sub(off));
        if off.checked_add(len).is_none_or(|e| e > ino.size) {
            return Err(DogError::Other(format!(
                "Invalid offset/length: {off}+{len} is beyond the VDI size {}",
                ino.size
            )));
        }
        if ino.index.is_empty() && len > 0 {
            let osz = ino.obj_size();
            let (first, last) = ((off / osz) as u32, ((off + len - 1) / osz) as u32);
            let at = data_vdi_id_offset(first) as u32;
            let n = (data_vdi_id_offset(last + 1) - data_vdi_id_offset(first)) as u32;
            let idx = read_obj(c, inode_oid(vid), at, n, DIRECT).await?;
            ino.index = decode::<IndexRun>(&idx, "index")?.vids();
            ino.index_base = first;
        }
        Ok((ino, len))
    }

    pub(crate) async fn vdi_read(
        &mut self,
        name: &str,
        s: &Snap,
        off: u64,
        len: Option<u64>,
    ) -> Result<(), DogError> {
        let c = Arc::new(self.conn(self.gw).await?);
        let vid = self.find(&c, name, s).await?;
        let (ino, len) = self.transfer_inode(&c, vid, off, len).await?;
        let pb = progress(self.env.progress, len);
        let ino = Arc::new(ino);
        let osz = ino.obj_size();
        // One request at a time reads whole objects (the C dog's pattern);
        // pipelined reads ask for smaller pieces, so both ends work on
        // buffers that stay in cache and the first bytes leave sooner.
        let piece = if self.inflight > 1 { READ_PIECE } else { osz };
        if self.env.direct_stdio && self.inflight > 1 && self.zero_copy {
            self.env.stdout.flush().await.map_err(stdout_err)?;
            let mut pieces = Vec::new();
            let mut pos = off;
            let end = off + len;
            while pos < end {
                let idx = (pos / osz) as u32;
                let inoff = pos % osz;
                let n = (osz - inoff).min(end - pos).min(piece);
                let owner = ino.owner(idx);
                pieces.push(Piece {
                    oid: (owner != 0).then(|| data_oid(owner, idx)),
                    off: inoff as u32,
                    len: n as u32,
                });
                pos += n;
            }
            let target = (self.env.connect)(self.gw);
            let inflight = self.inflight;
            let pb2 = pb.clone();
            let out = std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .map_err(stdout_err)?;
            tokio::task::spawn_blocking(move || {
                splice::read_to(&target, out.into(), &pieces, inflight, |n| pb2.inc(n))
            })
            .await
            .map_err(|e| DogError::Other(format!("read task failed: {e}")))??;
            pb.finish_and_clear();
            return Ok(());
        }
        let mut out = if self.env.direct_stdio {
            self.env.stdout.flush().await.map_err(stdout_err)?;
            Some(StdoutWriter::stdout(self.inflight).map_err(stdout_err)?)
        } else {
            None
        };
        let mut q: VecDeque<tokio::task::JoinHandle<Result<Bytes, DogError>>> = VecDeque::new();
        let mut pos = off;
        let end = off + len;
        while pos < end || !q.is_empty() {
            while pos < end && q.len() < self.inflight {
                let idx = (pos / osz) as u32;
                let inoff = pos % osz;
                let n = (osz - inoff).min(end - pos).min(piece);
                let owner = ino.owner(idx);
                let c2 = c.clone();
                q.push_back(tokio::spawn(async move {
                    if owner == 0 {
                        Ok(Bytes::from(vec![0u8; n as usize]))
                    } else {
                        read_obj(&c2, data_oid(owner, idx), inoff as u32, n as u32, NONE).await
                    }
                }));
                pos += n;
            }
            let Some(h) = q.pop_front() else { break };
            let data = h
                .await
                .map_err(|e| DogError::Other(format!("read task failed: {e}")))??;
            pb.inc(data.len() as u64);
            match &mut out {
                Some(w) => {
                    w.write(data).await.map_err(stdout_err)?;
                    if self.inflight == 1 {
                        // The C dog writes each piece before it asks for the next.
                        w.sync().await.map_err(stdout_err)?;
                    }
                }
                None => self.env.stdout.write_all(&data).await.map_err(stdout_err)?,
            }
        }
        if let Some(mut w) = out {
            w.finish().await.map_err(stdout_err)?;
        }
        pb.finish_and_clear();
        Ok(())
    }

    pub(crate) async fn vdi_write(
        &mut self,
        name: &str,
        off: u64,
        len: Option<u64>,
    ) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let vid = self.find(&c, name, &Snap::default()).await?;
        let (ino, len) = self.transfer_inode(&c, vid, off, len).await?;
        self.write_stream(Arc::new(c), ino, off, len, false).await
    }

    /// Writes `len` bytes at `off` from stdin (or zeros), one piece per
    /// object, `inflight` pieces at a time.
    pub(super) async fn write_stream(
        &mut self,
        c: Arc<Client>,
        ino: Inode,
        off: u64,
        len: u64,
        zeros: bool,
    ) -> Result<(), DogError> {
        let pb = progress(self.env.progress, len);
        let ino = Arc::new(ino);
        let osz = ino.obj_size();
        let sem = Arc::new(tokio::sync::Semaphore::new(self.inflight));
        let mut set = tokio::task::JoinSet::new();
        let mut pos = off;
        let end = off + len;
        // A pipelined transfer over several objects defers the index updates
        // of the objects it creates and writes them as one WRITE_OBJ per run
        // of consecutive entries once the data is in (each index write is a
        // synchronous inode update on the sheep). One object, or
        // `--inflight 1`, keeps the C dog's create + 4-byte update sequence.
        let batch = self.inflight > 1 && len > 0 && off / osz != (end - 1) / osz;
        let mut created: Vec<u32> = Vec::new();
        let mut first_err = None;
        // Stdin straight into request payloads on a thread; pipelined, it
        // reads ahead as many pieces as are in flight, one at a time it
        // reads each piece when the previous one is written (the C dog).
        // Pipelined from a regular file: payloads go from stdin's page
        // cache to the socket with sendfile, never through the dog.
        let mut file_src = if self.env.direct_stdio && !zeros && self.inflight > 1 && self.zero_copy
        {
            StdinFile::open()
        } else {
            None
        };
        let mut src = if self.env.direct_stdio && !zeros && file_src.is_none() {
            let (mut p, e) = (off, end);
            let sizes = std::iter::from_fn(move || {
                (p < e).then(|| {
                    let n = (osz - p % osz).min(e - p);
                    p += n;
                    n as usize
                })
            });
            let ahead = if self.inflight > 1 { self.inflight } else { 0 };
            Some(PieceReader::stdin(sizes, ahead).map_err(stdin_err)?)
        } else {
            None
        };
        let mut take = |r: Result<Result<Option<u32>, DogError>, tokio::task::JoinError>,
                        first_err: &mut Option<DogError>| {
            match r.unwrap_or_else(|e| Err(DogError::Other(e.to_string()))) {
                Ok(Some(idx)) => created.push(idx),
                Ok(None) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        };
        while pos < end {
            let Ok(permit) = sem.clone().acquire_owned().await else {
                break;
            };
            while let Some(r) = set.try_join_next() {
                take(r, &mut first_err);
            }
            if first_err.is_some() {
                break;
            }
            let idx = (pos / osz) as u32;
            let inoff = pos % osz;
            let want = (osz - inoff).min(end - pos) as usize;
            let buf: Payload = match (&mut src, &mut file_src) {
                _ if zeros => Bytes::from(vec![0u8; want]).into(),
                (_, Some(f)) => f.next(want),
                (Some(r), _) => match r.next().await {
                    None => Bytes::new().into(),
                    Some(r) => r.map_err(stdin_err)?.into(),
                },
                (None, None) => {
                    let mut buf = vec![0u8; want];
                    let mut got = 0;
                    while got < want {
                        let n = self
                            .env
                            .stdin
                            .read(&mut buf[got..])
                            .await
                            .map_err(stdin_err)?;
                        if n == 0 {
                            break;
                        }
                        got += n;
                    }
                    buf.truncate(got);
                    Bytes::from(buf).into()
                }
            };
            let got = buf.len();
            if got == 0 {
                break;
            }
            let (c2, i2, pb2) = (c.clone(), ino.clone(), pb.clone());
            set.spawn(async move {
                let r = if batch {
                    write_piece_data(&c2, &i2, idx, inoff as u32, buf)
                        .await
                        .map(|created| created.then_some(idx))
                } else {
                    write_piece(&c2, &i2, idx, inoff as u32, buf)
                        .await
                        .map(|()| None)
                };
                pb2.inc(got as u64);
                drop(permit);
                r
            });
            pos += got as u64;
            if got < want {
                break;
            }
        }
        while let Some(r) = set.join_next().await {
            take(r, &mut first_err);
        }
        if let Some(f) = file_src {
            // Leave stdin where a reader of the same bytes would have.
            f.finish().map_err(stdin_err)?;
        }
        // Objects that were created point at the VDI even if another piece
        // failed, so what was written is readable.
        created.sort_unstable();
        let idx_r = write_index_runs(&c, &ino, &created).await;
        pb.finish_and_clear();
        match first_err {
            Some(e) => Err(e),
            None => idx_r,
        }
    }
}
