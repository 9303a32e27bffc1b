//! Where finalized blocks go: an [`Executor`] receives the blocks this
//! node finalizes, once each, in height order. Blocks below a catch-up
//! package the node jumped to are stored but not executed: the state at the
//! package's height is what the node continues from (obtaining it is the
//! execution layer's part). Until canister execution exists, nodes run the
//! [`CountingExecutor`].

use chainkey_consensus::FinalizedBlock;

/// Executes finalized blocks, in height order, each once per run (see the module docs).
pub trait Executor: Send {
    /// Executes one block.
    fn execute(&mut self, block: &FinalizedBlock);
}

/// Counts blocks and messages (the executor until execution exists).
#[derive(Debug, Default)]
pub struct CountingExecutor {
    /// Blocks executed.
    pub blocks: u64,
    /// Ingress messages executed.
    pub messages: u64,
}

impl Executor for CountingExecutor {
    fn execute(&mut self, block: &FinalizedBlock) {
        self.blocks += 1;
        self.messages += block.block.payload.len() as u64;
    }
}
