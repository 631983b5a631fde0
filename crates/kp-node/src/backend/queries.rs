//! The reads behind the RPC's queries: records, blocks, transactions, pages and scans.

use super::*;

use kp_api::views::{BlockAnswer, RejectionAnswer, TransactionAnswer};
use std::borrow::Cow;

impl NodeBackend {
    /// The listings and rarely asked reads (the frequent point reads have
    /// their own paths); the answers are the types of [`kp_api::answers`].
    pub(super) fn query_other(&self, query: Query) -> Result<JsonBody, ApiError> {
        let shared = &self.shared;
        match query {
            Query::Genesis => JsonBody::new(&shared.genesis),
            Query::Block(height) => JsonBody::new(&self.block(height)?),
            Query::BlockByHash(hash) => {
                let height = BlockStore::height_of(&shared.store, &hash)
                    .map_err(internal)?
                    .ok_or_else(|| {
                        ApiError::not_found(format!("no decided block has hash {hash}"))
                    })?;
                JsonBody::new(&self.block(height)?)
            }
            Query::Certificates(filter) => JsonBody::new(&self.certificates(&filter)?),
            Query::Participants => JsonBody::new(&ParticipantList {
                items: shared.ledger.participants().map_err(internal)?,
            }),
            Query::Resolution(id) => {
                let record = shared
                    .ledger
                    .resolution(&id)
                    .map_err(internal)?
                    .ok_or_else(|| ApiError::not_found(format!("no resolution has id {id}")))?;
                JsonBody::new(&record)
            }
            Query::Resolutions {
                pending_only,
                after,
                limit,
            } => JsonBody::new(&self.resolutions(pending_only, after, limit)?),
            Query::Seizures { limit } => JsonBody::new(&SeizureList {
                items: shared.ledger.seizures(limit).map_err(internal)?,
            }),
            Query::Statistics {
                participant,
                period,
            } => {
                if shared
                    .ledger
                    .participant(&participant)
                    .map_err(internal)?
                    .is_none()
                {
                    return Err(ApiError::not_found(format!(
                        "no member has code {participant}"
                    )));
                }
                let statistics = shared
                    .ledger
                    .statistics(&participant, period)
                    .map_err(internal)?;
                JsonBody::new(&StatisticsAnswer {
                    participant,
                    period,
                    statistics,
                })
            }
            Query::Anomalies { period } => JsonBody::new(&AnomaliesAnswer {
                period,
                items: shared.ledger.anomalies(period).map_err(internal)?,
            }),
            Query::Transaction(_)
            | Query::Certificate(_)
            | Query::CertificateProof(_)
            | Query::LightBlock(_)
            | Query::ParticipantProof(_)
            | Query::ResolutionProof(_)
            | Query::Participant(_) => Err(ApiError::internal("query routed to the wrong reader")),
        }
    }

    pub(super) fn block(&self, height: u64) -> Result<BlockAnswer, ApiError> {
        let store = &self.shared.store;
        let block = BlockStore::block(store, height)
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found(format!("no block at height {height}")))?;
        let certificate = BlockStore::commit_certificate(store, height).map_err(internal)?;
        Ok(BlockAnswer {
            hash: block.hash(),
            block,
            commit_certificate: certificate,
        })
    }

    /// Where the decided transaction `hash` is: height and position.
    pub(super) fn tx_location(&self, hash: &TxHash) -> Result<(u64, u32), ApiError> {
        BlockStore::tx_location(&self.shared.store, hash)
            .map_err(internal)?
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "transaction {hash} is not in a decided block (yet)"
                ))
            })
    }

    /// A decided transaction if its block is decoded in the cache; `None`
    /// if answering needs the block read and decoded.
    pub(super) fn transaction_now(&self, hash: &TxHash) -> Result<Option<JsonBody>, ApiError> {
        let (height, position) = self.tx_location(hash)?;
        let cached = self
            .blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(height);
        cached
            .map(|decided| transaction_answer(hash, position, &decided))
            .transpose()
    }

    /// A decided transaction: where it is, its receipt and the transaction.
    pub(super) fn transaction(&self, hash: &TxHash) -> Result<JsonBody, ApiError> {
        let (height, position) = self.tx_location(hash)?;
        let cached = self
            .blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(height);
        let decided = match cached {
            Some(decided) => decided,
            None => {
                let decided = Arc::new(read_decided_block(&self.shared.store, height)?);
                // Only a complete entry is kept: the receipts of a block are
                // stored with it, so a missing part is a store being
                // repaired, and must be read again next time.
                if decided.block.is_some() && decided.receipts.is_some() {
                    self.blocks
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(decided.clone());
                }
                decided
            }
        };
        transaction_answer(hash, position, &decided)
    }

    pub(super) fn certificate_record(
        &self,
        number: &CertificateNumber,
    ) -> Result<CertificateRecord, ApiError> {
        self.shared
            .ledger
            .certificate(number)
            .map_err(internal)?
            .ok_or_else(|| {
                ApiError::not_found(format!("no certificate numbered {number} is on the ledger"))
            })
    }

    /// The alert index of the last applied height if it is built, `None` if
    /// it must be read first.
    pub(super) fn current_alerts(&self) -> Result<Option<Arc<AlertIndex>>, ApiError> {
        let height = BlockStore::last_block_height(&self.shared.store).map_err(internal)?;
        let slot = self.alerts.read().unwrap_or_else(|e| e.into_inner());
        Ok(slot
            .as_ref()
            .filter(|index| index.height == height)
            .cloned())
    }

    /// The alert index of the last applied height, read from the ledger if
    /// the one kept is of another height.
    pub(super) fn fresh_alerts(&self) -> Result<Arc<AlertIndex>, ApiError> {
        // The height is read before the index: the index is then of this
        // height or a later one, never older than what the store says.
        let height = BlockStore::last_block_height(&self.shared.store).map_err(internal)?;
        if let Some(index) = self
            .alerts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|index| index.height == height)
        {
            return Ok(index.clone());
        }
        let index = Arc::new(AlertIndex::read(&self.shared.ledger, height)?);
        let mut slot = self.alerts.write().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_none_or(|kept| kept.height <= height) {
            *slot = Some(index.clone());
        }
        Ok(index)
    }

    /// A certificate with its alerts, serialized once.
    pub(super) fn certificate(
        &self,
        number: &CertificateNumber,
        alerts: &AlertIndex,
    ) -> Result<JsonBody, ApiError> {
        let record = self.certificate_record(number)?;
        let alerts = alerts.alerts(&record);
        JsonBody::new(&CertificateAnswer { record, alerts })
    }

    /// A member with its authorities.
    pub(super) fn participant(&self, code: &ParticipantCode) -> Result<JsonBody, ApiError> {
        let record = self
            .shared
            .ledger
            .participant(code)
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found(format!("no member has code {code}")))?;
        JsonBody::new(&record)
    }

    pub(super) fn certificates(
        &self,
        filter: &CertificateFilter,
    ) -> Result<CertificatePage, ApiError> {
        if let Some(authority) = &filter.authority {
            return self.certificates_of_authority(authority, filter);
        }
        let prefix = ledger_keys::prefix(ledger_keys::table::CERTIFICATE);
        let start_after = filter.after.as_ref().map(ledger_keys::certificate);
        let (items, next, scanned) = scan_page(
            &self.shared.store,
            &prefix,
            start_after,
            filter.limit,
            scan_max_of(filter),
            |record: &CertificateRecord| record.certificate.number.clone(),
            |record| Ok(matches_filter(&record, filter).then_some(record)),
        )?;
        Ok(CertificatePage {
            items,
            next,
            scanned: scanned as u64,
        })
    }

    /// A page of the certificates `authority` issued, in number order: the
    /// certificates under each territory it issued under (the ledger's
    /// search aid), its own kept and the other filters applied to each; the
    /// same bounds as the table scan, counting every certificate read.
    fn certificates_of_authority(
        &self,
        authority: &AuthorityId,
        filter: &CertificateFilter,
    ) -> Result<CertificatePage, ApiError> {
        let territories = self
            .shared
            .ledger
            .territories_issued_under(authority)
            .map_err(internal)?;
        let after_territory = filter.after.as_ref().map(|n| n.territory_prefix());
        let scan_max = scan_max_of(filter);
        let mut items = Vec::new();
        let mut scanned = 0usize;
        let mut last: Option<CertificateNumber> = None;
        for territory in territories {
            if after_territory.as_ref().is_some_and(|a| territory < *a) {
                continue;
            }
            if items.len() == filter.limit || scanned == scan_max {
                // Out of room before this territory: continue from the last
                // certificate read (or where the caller asked).
                return Ok(CertificatePage {
                    items,
                    next: last.or_else(|| filter.after.clone()),
                    scanned: scanned as u64,
                });
            }
            let start_after = filter
                .after
                .as_ref()
                .filter(|n| n.territory_prefix() == territory)
                .map(ledger_keys::certificate);
            let (page, next, count) = scan_page(
                &self.shared.store,
                &ledger_keys::certificates_of_territory_prefix(&territory),
                start_after,
                filter.limit - items.len(),
                scan_max - scanned,
                |record: &CertificateRecord| record.certificate.number.clone(),
                |record| {
                    last = Some(record.certificate.number.clone());
                    // The filter holds the authority.
                    Ok(matches_filter(&record, filter).then_some(record))
                },
            )?;
            items.extend(page);
            scanned += count;
            if next.is_some() {
                return Ok(CertificatePage {
                    items,
                    next,
                    scanned: scanned as u64,
                });
            }
        }
        Ok(CertificatePage {
            items,
            next: None,
            scanned: scanned as u64,
        })
    }

    pub(super) fn resolutions(
        &self,
        pending_only: bool,
        after: Option<Hash>,
        limit: usize,
    ) -> Result<ResolutionPage, ApiError> {
        let prefix = ledger_keys::prefix(ledger_keys::table::RESOLUTION);
        let start_after = after.as_ref().map(ledger_keys::resolution);
        let (items, next, _) = scan_page(
            &self.shared.store,
            &prefix,
            start_after,
            limit,
            CERTIFICATE_SCAN_MAX,
            |record: &ResolutionRecord| record.id,
            |record| {
                let pending = record.outcome == ResolutionOutcome::Pending;
                if pending_only && !pending {
                    return Ok(None);
                }
                if !pending {
                    return Ok(Some(record));
                }
                // A pending resolution's `missing` is recomputed against the
                // current membership by the ledger's own query.
                Ok(Some(
                    self.shared
                        .ledger
                        .resolution(&record.id)
                        .map_err(internal)?
                        .unwrap_or(record),
                ))
            },
        )?;
        Ok(ResolutionPage { items, next })
    }

    pub(super) fn with_prover<T>(
        &self,
        prove: impl FnOnce(
            &kp_ledger::prove::Prover<'_, StoreChain<'_>, SledStore>,
        ) -> Result<T, kp_ledger::prove::ProofFailure>,
    ) -> Result<T, ApiError> {
        let chain = StoreChain(&self.shared.store);
        let prover = kp_ledger::prove::Prover {
            chain: &chain,
            store: &self.shared.store,
            versions: &self.shared.records,
        };
        prove(&prover).map_err(|e| match e {
            kp_ledger::prove::ProofFailure::NotFound(m) => ApiError::not_found(m),
            kp_ledger::prove::ProofFailure::Unavailable(m) => ApiError::unavailable(m),
            kp_ledger::prove::ProofFailure::Internal(m) => ApiError::internal(m),
        })
    }
}

pub(super) fn matches_filter(record: &CertificateRecord, filter: &CertificateFilter) -> bool {
    let c = &record.certificate;
    filter.exporting.as_ref().is_none_or(|e| *e == c.exporting)
        && filter.importing.as_ref().is_none_or(|i| *i == c.importing)
        && filter
            .monitor
            .as_ref()
            .is_none_or(|m| record.approval.as_ref().is_some_and(|a| a.monitor == *m))
        && filter
            .authority
            .as_ref()
            .is_none_or(|a| *a == c.issuing_authority)
        && filter
            .status
            .as_deref()
            .is_none_or(|s| s == record.status.name())
        && filter.period.is_none_or(|p| p.contains(c.issued_on))
}

/// The most records a certificate search reads: the cap the RPC's access
/// policy set (`[rpc] search_scan_max`), never above [`CERTIFICATE_SCAN_MAX`];
/// 0 (no cap given) is [`CERTIFICATE_SCAN_MAX`].
fn scan_max_of(filter: &CertificateFilter) -> usize {
    match filter.scan_max {
        0 => CERTIFICATE_SCAN_MAX,
        n => n.min(CERTIFICATE_SCAN_MAX),
    }
}

/// One page of a ledger table, scanned in key order after `start_after` in
/// bounded chunks (at most `scan_max` records looked at): the
/// records `keep` returns (at most `limit`), the cursor of the last record
/// looked at when the table may hold more, and how many were looked at.
pub(super) fn scan_page<T, C>(
    store: &SledStore,
    prefix: &[u8],
    mut start_after: Option<Vec<u8>>,
    limit: usize,
    scan_max: usize,
    cursor: impl Fn(&T) -> C,
    mut keep: impl FnMut(T) -> Result<Option<T>, ApiError>,
) -> Result<(Vec<T>, Option<C>, usize), ApiError>
where
    T: serde::de::DeserializeOwned,
{
    let mut items = Vec::new();
    let mut scanned = 0usize;
    let mut last = None;
    while items.len() < limit && scanned < scan_max {
        let chunk = SCAN_CHUNK.min(scan_max - scanned);
        let rows = store
            .scan_prefix(prefix, start_after.as_deref(), chunk)
            .map_err(internal)?;
        let count = rows.len();
        let mut consumed = 0;
        for (key, value) in rows {
            consumed += 1;
            scanned += 1;
            start_after = Some(key);
            let record: T = kp_types::decode(&value, STORED_VALUE_BYTES_MAX).map_err(internal)?;
            last = Some(cursor(&record));
            if let Some(record) = keep(record)? {
                items.push(record);
                if items.len() == limit {
                    break;
                }
            }
        }
        if count < chunk && consumed == count {
            // The table ended: no cursor.
            return Ok((items, None, scanned));
        }
    }
    Ok((items, last, scanned))
}

pub(super) fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("storage failure: {e}"))
}

/// `GET /v1/txs/{hash}` for the transaction at `position` of `decided`.
pub(super) fn transaction_answer(
    hash: &TxHash,
    position: u32,
    decided: &DecidedBlock,
) -> Result<JsonBody, ApiError> {
    let index = position as usize;
    let receipt = decided.receipts.as_ref().and_then(|r| r.get(index));
    let tx = decided.block.as_ref().and_then(|b| b.txs.get(index));
    let (accepted, rejection) = match receipt.map(|r| &r.result) {
        Some(Ok(())) => (Some(true), None),
        Some(Err(rejection)) => (
            Some(false),
            Some(RejectionAnswer {
                code: rejection.code().to_string(),
                message: rejection.to_string(),
            }),
        ),
        None => (None, None),
    };
    JsonBody::new(&TransactionAnswer {
        hash: *hash,
        height: decided.height,
        position,
        accepted,
        rejection,
        receipt: receipt.map(Cow::Borrowed),
        tx: tx.map(Cow::Borrowed),
    })
}
