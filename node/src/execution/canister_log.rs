//! A canister's log: what its replicated messages printed with
//! `ic0.debug_print`, and why they trapped, numbered and timestamped with
//! their block's time. It keeps the newest records within the canister's
//! `log_memory_limit`, and `fetch_canister_logs` reads it.

use std::collections::VecDeque;

use ic_management_canister_types as types;
use serde::{Deserialize, Serialize};

/// Bytes a record costs besides its content (index and timestamp).
const RECORD_OVERHEAD: u64 = 16;

/// One log record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Its index: records are numbered from 0, in order, for good.
    pub idx: u64,
    /// The time of the block whose message wrote it, Unix nanoseconds.
    pub timestamp_nanos: u64,
    /// What was written.
    #[serde(with = "serde_bytes")]
    pub content: Vec<u8>,
}

impl LogRecord {
    fn bytes(&self) -> u64 {
        self.content.len() as u64 + RECORD_OVERHEAD
    }
}

/// The newest records of a canister's log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanisterLog {
    /// The index the next record gets.
    next_idx: u64,
    records: VecDeque<LogRecord>,
    /// Bytes the kept records take.
    bytes: u64,
}

impl CanisterLog {
    /// Appends `content` at `time_ns`, then drops the oldest records until
    /// the log fits in `limit` bytes (a record larger than `limit` is cut).
    pub fn append(&mut self, time_ns: u64, mut content: Vec<u8>, limit: u64) {
        let room = limit.saturating_sub(RECORD_OVERHEAD) as usize;
        content.truncate(room);
        let record = LogRecord {
            idx: self.next_idx,
            timestamp_nanos: time_ns,
            content,
        };
        self.next_idx += 1;
        self.bytes += record.bytes();
        self.records.push_back(record);
        self.shrink_to(limit);
    }

    /// Drops the oldest records until the log fits in `limit` bytes.
    pub fn shrink_to(&mut self, limit: u64) {
        while self.bytes > limit {
            let Some(oldest) = self.records.pop_front() else {
                break;
            };
            self.bytes -= oldest.bytes();
        }
    }

    /// Bytes the kept records take.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The kept records that pass `filter`, oldest first.
    pub fn fetch(
        &self,
        filter: Option<&types::CanisterLogFilter>,
    ) -> Vec<types::CanisterLogRecord> {
        self.records
            .iter()
            .filter(|record| match filter {
                None => true,
                Some(types::CanisterLogFilter::ByIdx { start, end }) => {
                    (*start..*end).contains(&record.idx)
                }
                Some(types::CanisterLogFilter::ByTimestampNanos { start, end }) => {
                    (*start..*end).contains(&record.timestamp_nanos)
                }
            })
            .map(|record| types::CanisterLogRecord {
                idx: record.idx,
                timestamp_nanos: record.timestamp_nanos,
                content: record.content.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_records_go_when_the_limit_is_reached() {
        let mut log = CanisterLog::default();
        for i in 0..10u8 {
            log.append(u64::from(i), vec![i; 4], 60);
        }
        // 20 bytes a record: three fit in 60.
        let kept: Vec<u64> = log.fetch(None).iter().map(|r| r.idx).collect();
        assert_eq!(kept, [7, 8, 9]);
        assert_eq!(log.bytes(), 60);
    }

    #[test]
    fn a_record_larger_than_the_limit_is_cut_to_fit() {
        let mut log = CanisterLog::default();
        log.append(1, vec![0; 1000], 100);
        assert_eq!(log.fetch(None)[0].content.len(), 84);
    }

    #[test]
    fn filters_select_by_index_and_by_time() {
        let mut log = CanisterLog::default();
        for i in 0..5u64 {
            log.append(100 + i, b"x".to_vec(), 4096);
        }
        let by_idx = types::CanisterLogFilter::ByIdx { start: 1, end: 3 };
        let idx: Vec<u64> = log.fetch(Some(&by_idx)).iter().map(|r| r.idx).collect();
        assert_eq!(idx, [1, 2]);
        let by_time = types::CanisterLogFilter::ByTimestampNanos {
            start: 103,
            end: 200,
        };
        let idx: Vec<u64> = log.fetch(Some(&by_time)).iter().map(|r| r.idx).collect();
        assert_eq!(idx, [3, 4]);
    }
}
