//! The node's durable state, in one redb database: the finalized chain,
//! the point to resume from (the last finalized block and its beacon), the
//! latest catch-up package, what the node signed above the resume point,
//! and the ids of finalized ingress messages until they expire.
//!
//! Every write is a committed (fsynced) transaction, made before the node
//! acts on it: a finalized block is stored before it is executed, and a
//! signed proposal or share before it leaves the node, so a crash at any
//! point loses no finalized block and cannot make the node sign twice.
//! After a restart the node resumes after its last finalized block and
//! replays what it signed above it (those rounds may need its shares, and
//! it will not propose or finalization-share there again).

use std::collections::BTreeMap;
use std::path::Path;

use chainkey_consensus::types::{CatchUpPackage, SignatureBytes};
use chainkey_consensus::{Artifact, FinalityProof, FinalizedBlock, Hash, Height};
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};

const FINALIZED: TableDefinition<u64, &[u8]> = TableDefinition::new("finalized");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Ids of finalized ingress messages with their expiry (Unix ms), one
/// entry per block height (one write per block, however full).
const INGRESS: TableDefinition<u64, &[u8]> = TableDefinition::new("ingress");
/// Artifacts this node signed, by (height, sequence number).
const SIGNED: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("signed");
/// Proofs of the last finalized blocks, by height (see [`FinalityProof`]).
const PROOFS: TableDefinition<u64, &[u8]> = TableDefinition::new("finality_proofs");
/// Heights below the resume point whose proofs are kept: how far behind a
/// peer may have stopped and still finish its rounds after a restart.
pub const KEPT_PROOFS: u64 = 16;
const SIGNED_THROUGH: &str = "signed_through";
const RESUME: &str = "resume";
const CATCH_UP: &str = "catch_up";

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory cannot be created.
    #[error("cannot create the data directory {path}: {source}")]
    Directory {
        /// The directory.
        path: std::path::PathBuf,
        /// What creating it gave.
        source: std::io::Error,
    },
    /// The database itself (its file, its transactions or its tables).
    #[error("database: {0}")]
    Database(#[source] Box<redb::Error>),
    /// A stored value does not decode.
    #[error("corrupt {0}")]
    Corrupt(&'static str),
    /// A different block was already stored as finalized at this height
    /// (impossible unless more than f nodes are faulty): refused.
    #[error("a different block is already finalized at height {0}")]
    Conflict(Height),
}

impl<E: Into<redb::Error>> From<E> for StoreError {
    fn from(error: E) -> Self {
        StoreError::Database(Box::new(error.into()))
    }
}

use crate::cbor::to_cbor as encode;

fn decode<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, StoreError> {
    ciborium::from_reader(bytes).map_err(|_| StoreError::Corrupt(what))
}

/// A node's database.
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) the database in `dir`.
    ///
    /// # Errors
    /// [`StoreError::Directory`] or [`StoreError::Database`].
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Directory {
            path: dir.to_path_buf(),
            source,
        })?;
        let db = Database::create(dir.join("node.redb"))?;
        let write = db.begin_write()?;
        write.open_table(FINALIZED)?;
        write.open_table(META)?;
        write.open_table(SIGNED)?;
        write.open_table(INGRESS)?;
        write.open_table(PROOFS)?;
        write.commit()?;
        Ok(Store { db })
    }

    /// Stores finalized blocks; blocks already stored must be identical.
    /// Returns how many were new.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] (nothing is written), or a database error.
    pub fn put_finalized(
        &self,
        blocks: &[FinalizedBlock],
        ingress: &[(Hash, u64)],
    ) -> Result<usize, StoreError> {
        self.write_finalized(blocks, None, ingress)
    }

    /// Stores the block the node just finalized (with its ingress ids and
    /// expiries) and makes it the point to resume from after a restart,
    /// with the random beacon at its height and, when consensus still
    /// holds it, the block's proof for peers.
    ///
    /// # Errors
    /// As [`Store::put_finalized`].
    pub fn put_resume_point(
        &self,
        block: &FinalizedBlock,
        beacon: &SignatureBytes,
        proof: Option<&FinalityProof>,
        ingress: &[(Hash, u64)],
    ) -> Result<usize, StoreError> {
        self.write_finalized(
            std::slice::from_ref(block),
            Some((block, beacon, proof)),
            ingress,
        )
    }

    /// The proofs kept of the last finalized blocks, by height.
    ///
    /// # Errors
    /// A database or decoding error.
    pub fn finality_proofs(&self) -> Result<Vec<(Height, FinalityProof)>, StoreError> {
        self.rows(PROOFS, "finality proof")
    }

    /// Every row of a table keyed by height, decoded, in height order.
    fn rows<T: serde::de::DeserializeOwned>(
        &self,
        definition: TableDefinition<u64, &[u8]>,
        what: &'static str,
    ) -> Result<Vec<(Height, T)>, StoreError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(definition)?;
        let mut rows = Vec::new();
        for entry in table.iter()? {
            let (height, value) = entry?;
            rows.push((height.value(), decode(value.value(), what)?));
        }
        Ok(rows)
    }

    /// Finalized ingress ids with their expiries (Unix ms).
    ///
    /// # Errors
    /// A database error.
    pub fn finalized_ingress(&self) -> Result<Vec<(Hash, u64)>, StoreError> {
        let blocks: Vec<(Height, Vec<(Hash, u64)>)> = self.rows(INGRESS, "ingress ids")?;
        Ok(blocks.into_iter().flat_map(|(_, ids)| ids).collect())
    }

    /// Forgets finalized ingress ids that expired before `before_ms`.
    ///
    /// # Errors
    /// A database error.
    pub fn prune_ingress(&self, before_ms: u64) -> Result<(), StoreError> {
        let write = self.db.begin_write()?;
        write.open_table(INGRESS)?.retain(|_, block| {
            // Keep a block's ids while any has not expired (or if unreadable).
            decode::<Vec<(Hash, u64)>>(block, "ingress ids").map_or(true, |ids| {
                ids.iter().any(|(_, expiry)| *expiry >= before_ms)
            })
        })?;
        write.commit()?;
        Ok(())
    }

    /// The first run of heights missing below the top stored height, if
    /// any. A chain without gaps (the usual case) is recognised from its
    /// length and ends alone, without reading its blocks: a node starting
    /// on a long chain must not read all of it.
    ///
    /// # Errors
    /// A database error.
    pub fn first_gap(&self) -> Result<Option<(Height, Height)>, StoreError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(FINALIZED)?;
        let (Some(first), Some(top)) = (table.first()?, table.last()?) else {
            return Ok(None);
        };
        let (first, top) = (first.0.value(), top.0.value());
        if first <= 1 && top - first + 1 == table.len()? {
            return Ok(None);
        }
        let mut expected = 1;
        for entry in table.iter()? {
            let height = entry?.0.value();
            if height > expected {
                return Ok(Some((expected, height - 1)));
            }
            expected = height + 1;
        }
        Ok(None)
    }

    /// The latest resume point: a finalized block and its height's beacon.
    ///
    /// # Errors
    /// A database or decoding error.
    pub fn resume_point(&self) -> Result<Option<(FinalizedBlock, SignatureBytes)>, StoreError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(META)?;
        table
            .get(RESUME)?
            .map(|value| decode(value.value(), "resume point"))
            .transpose()
    }

    fn write_finalized(
        &self,
        blocks: &[FinalizedBlock],
        resume: Option<(&FinalizedBlock, &SignatureBytes, Option<&FinalityProof>)>,
        ingress: &[(Hash, u64)],
    ) -> Result<usize, StoreError> {
        let write = self.db.begin_write()?;
        {
            let mut proofs = write.open_table(PROOFS)?;
            if let Some((block, _, Some(proof))) = resume {
                let height = block.block.height;
                proofs.insert(height, encode(proof).as_slice())?;
                proofs.remove(height.saturating_sub(KEPT_PROOFS))?;
            }
        }
        if let (false, Some(block)) = (ingress.is_empty(), blocks.last()) {
            write
                .open_table(INGRESS)?
                .insert(block.block.height, encode(&ingress).as_slice())?;
        }
        if let Some((block, beacon, _)) = resume {
            write
                .open_table(META)?
                .insert(RESUME, encode(&(block, beacon)).as_slice())?;
        }
        let mut new = 0;
        {
            let mut table = write.open_table(FINALIZED)?;
            for block in blocks {
                let height = block.block.height;
                if let Some(stored) = table.get(height)? {
                    let stored: FinalizedBlock = decode(stored.value(), "finalized block")?;
                    if stored.hash != block.hash {
                        return Err(StoreError::Conflict(height));
                    }
                    continue;
                }
                table.insert(height, encode(block).as_slice())?;
                new += 1;
            }
        }
        write.commit()?;
        Ok(new)
    }

    /// The finalized block at `height`, if stored.
    ///
    /// # Errors
    /// A database or decoding error.
    pub fn finalized(&self, height: Height) -> Result<Option<FinalizedBlock>, StoreError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(FINALIZED)?;
        table
            .get(height)?
            .map(|value| decode(value.value(), "finalized block"))
            .transpose()
    }

    /// Stored finalized blocks with heights in `from..=to`, at most `limit`.
    ///
    /// # Errors
    /// A database or decoding error.
    pub fn finalized_range(
        &self,
        from: Height,
        to: Height,
        limit: usize,
    ) -> Result<Vec<FinalizedBlock>, StoreError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(FINALIZED)?;
        let mut blocks = Vec::new();
        for entry in table.range(from..=to)?.take(limit) {
            let (_, value) = entry?;
            blocks.push(decode(value.value(), "finalized block")?);
        }
        Ok(blocks)
    }

    /// The highest stored finalized height (0 when none).
    ///
    /// # Errors
    /// A database error.
    pub fn top_finalized(&self) -> Result<Height, StoreError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(FINALIZED)?;
        let top = table.last()?.map_or(0, |(height, _)| height.value());
        Ok(top)
    }

    /// Every stored height and block hash (for comparing nodes' chains).
    ///
    /// # Errors
    /// A database or decoding error.
    pub fn chain(&self) -> Result<BTreeMap<Height, Hash>, StoreError> {
        let blocks: Vec<(Height, FinalizedBlock)> = self.rows(FINALIZED, "finalized block")?;
        Ok(blocks
            .into_iter()
            .map(|(height, block)| (height, block.hash))
            .collect())
    }

    /// The highest height the node may have signed at (0 when never).
    ///
    /// # Errors
    /// A database or decoding error.
    pub fn signed_through(&self) -> Result<Height, StoreError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(META)?;
        table
            .get(SIGNED_THROUGH)?
            .map(|value| decode(value.value(), "signing height"))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// Records an artifact the node signed at `height`, before it is sent,
    /// and raises the signing height to `height`.
    ///
    /// # Errors
    /// A database error.
    pub fn record_signed(&self, height: Height, artifact: &Artifact) -> Result<(), StoreError> {
        let write = self.db.begin_write()?;
        {
            let mut signed = write.open_table(SIGNED)?;
            let sequence = signed
                .range((height, 0)..=(height, u64::MAX))?
                .next_back()
                .transpose()?
                .map_or(0, |(key, _)| key.value().1 + 1);
            signed.insert((height, sequence), encode(artifact).as_slice())?;
            let mut meta = write.open_table(META)?;
            let through = match meta.get(SIGNED_THROUGH)? {
                Some(value) => decode::<Height>(value.value(), "signing height")?,
                None => 0,
            };
            meta.insert(SIGNED_THROUGH, encode(&through.max(height)).as_slice())?;
        }
        write.commit()?;
        Ok(())
    }

    /// What the node signed at heights above `height`, in height order.
    ///
    /// # Errors
    /// A database or decoding error.
    pub fn signed_above(&self, height: Height) -> Result<Vec<Artifact>, StoreError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(SIGNED)?;
        let mut artifacts = Vec::new();
        for entry in table.range((height + 1, 0)..)? {
            let (_, value) = entry?;
            artifacts.push(decode(value.value(), "signed artifact")?);
        }
        Ok(artifacts)
    }

    /// Forgets what the node signed at heights up to `height` (a catch-up
    /// package covers them).
    ///
    /// # Errors
    /// A database error.
    pub fn prune_signed(&self, height: Height) -> Result<(), StoreError> {
        let write = self.db.begin_write()?;
        write.open_table(SIGNED)?.retain(|(at, _), _| at > height)?;
        write.commit()?;
        Ok(())
    }

    /// The latest stored catch-up package.
    ///
    /// # Errors
    /// A database or decoding error.
    pub fn catch_up(&self) -> Result<Option<CatchUpPackage>, StoreError> {
        let read = self.db.begin_read()?;
        let table = read.open_table(META)?;
        table
            .get(CATCH_UP)?
            .map(|value| decode(value.value(), "catch-up package"))
            .transpose()
    }

    /// Stores a catch-up package (the node restarts from it).
    ///
    /// # Errors
    /// A database error.
    pub fn set_catch_up(&self, package: &CatchUpPackage) -> Result<(), StoreError> {
        self.put_meta(CATCH_UP, &encode(package))
    }

    fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let write = self.db.begin_write()?;
        write.open_table(META)?.insert(key, value)?;
        write.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainkey_consensus::Block;

    fn block(height: Height, parent: Hash) -> FinalizedBlock {
        let block = Block {
            height,
            parent,
            rank: 0,
            maker: 1,
            time_ns: 0,
            beacon: Hash::default(),
            payload: chainkey_consensus::Payload::default(),
        };
        FinalizedBlock {
            hash: block.hash(),
            block,
        }
    }

    fn request(height: Height) -> Artifact {
        Artifact::CatchUpRequest { height }
    }

    #[test]
    fn the_proofs_of_the_last_blocks_are_kept_with_the_resume_point() {
        let dir = tempfile::tempdir().unwrap();
        let proof = |height: Height| FinalityProof {
            beacon: vec![height as u8; 48],
            signature: vec![1; 48],
            notarization: None,
            finalization: None,
        };
        let mut parent = Hash::default();
        {
            let store = Store::open(dir.path()).unwrap();
            for height in 1..=40 {
                let finalized = block(height, parent);
                parent = finalized.hash;
                // Height 40 has no proof (consensus no longer held it).
                let kept = (height < 40).then(|| proof(height));
                store
                    .put_resume_point(&finalized, &vec![2; 48], kept.as_ref(), &[])
                    .unwrap();
            }
        }
        let store = Store::open(dir.path()).unwrap();
        let proofs = store.finality_proofs().unwrap();
        let heights: Vec<Height> = proofs.iter().map(|(height, _)| *height).collect();
        assert_eq!(heights, (40 - KEPT_PROOFS..40).collect::<Vec<_>>());
        assert_eq!(proofs[0].1, proof(40 - KEPT_PROOFS));
        assert_eq!(store.resume_point().unwrap().unwrap().0.block.height, 40);
    }

    #[test]
    fn blocks_and_signing_height_survive_reopening_and_conflicts_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = block(1, Hash::default());
        let second = block(2, first.hash);
        {
            let store = Store::open(dir.path()).unwrap();
            let new = store
                .put_finalized(&[first.clone(), second.clone()], &[(Hash([4; 32]), 90)])
                .unwrap();
            assert_eq!(new, 2);
            store.record_signed(7, &request(7)).unwrap();
            store.record_signed(3, &request(3)).unwrap();
            store.record_signed(7, &request(8)).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.top_finalized().unwrap(), 2);
        assert_eq!(store.signed_through().unwrap(), 7);
        assert_eq!(
            store.signed_above(2).unwrap(),
            vec![request(3), request(7), request(8)]
        );
        store.prune_signed(3).unwrap();
        assert_eq!(store.signed_above(0).unwrap(), vec![request(7), request(8)]);
        assert_eq!(store.finalized(2).unwrap(), Some(second.clone()));
        assert_eq!(
            store.finalized_range(1, 5, 10).unwrap(),
            vec![first.clone(), second]
        );
        // Storing the same block again is fine; a different one is refused.
        assert_eq!(
            store.put_finalized(&[first], &[]).unwrap(),
            0,
            "already stored"
        );
        let other = block(2, Hash([9; 32]));
        assert!(matches!(
            store.put_finalized(&[other], &[]),
            Err(StoreError::Conflict(2))
        ));
        assert_eq!(store.chain().unwrap().len(), 2);
        assert_eq!(store.first_gap().unwrap(), None);
        assert_eq!(
            store.finalized_ingress().unwrap(),
            vec![(Hash([4; 32]), 90)]
        );
        store.prune_ingress(91).unwrap();
        assert!(store.finalized_ingress().unwrap().is_empty());
    }

    #[test]
    fn the_first_gap_below_the_top_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.first_gap().unwrap(), None, "empty");
        let put = |height| store.put_finalized(&[block(height, Hash::default())], &[]);
        put(1).unwrap();
        put(2).unwrap();
        assert_eq!(store.first_gap().unwrap(), None);
        put(5).unwrap();
        put(9).unwrap();
        assert_eq!(store.first_gap().unwrap(), Some((3, 4)));
        put(3).unwrap();
        put(4).unwrap();
        assert_eq!(store.first_gap().unwrap(), Some((6, 8)));
        // A store that starts above height 1 (a node that caught up).
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .put_finalized(&[block(7, Hash::default())], &[])
            .unwrap();
        assert_eq!(store.first_gap().unwrap(), Some((1, 6)));
    }

    #[test]
    fn a_store_that_cannot_open_says_why_in_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"not a directory").unwrap();
        assert!(matches!(
            Store::open(&file.join("data")),
            Err(StoreError::Directory { path, .. }) if path == file.join("data")
        ));
        std::fs::write(dir.path().join("node.redb"), [7u8; 4096]).unwrap();
        assert!(matches!(
            Store::open(dir.path()),
            Err(StoreError::Database(_))
        ));
    }
}
