//! Resolutions: the acts that need absolute consensus (every government
//! Participant of the current membership signs; one objection rejects).

use crate::hash::Hash;
use crate::participant::{Participant, ParticipantCode};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A resolution's identity: the hash of the transaction that proposed it.
pub type ResolutionId = Hash;

/// What a sanction forbids or requires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum SanctionScope {
    /// No certificate from or to the Participant.
    FullSuspension,
    /// It may not export; imports are allowed.
    ExportBan,
    /// It may not import; exports are allowed.
    ImportBan,
    /// Exports only of stones whose origin zones are all listed ("green zones"),
    /// each certificate optionally needing a monitoring body's approval before
    /// it counts.
    PartialExports {
        /// The listed origin zones.
        green_zones: Vec<String>,
        /// The monitoring body that must approve each certificate, if any.
        monitor: Option<ParticipantCode>,
    },
    /// Trade allowed; certificates are flagged for extra checks by importers.
    EnhancedVigilance,
}

/// What a sanction does to a certificate issued by another Participant whose
/// declared origin includes the sanctioned Participant (stones laundered
/// through a neighbour or a trading hub). It applies where the sanction
/// forbids the origin's exports: a full suspension, an export ban, or
/// partial exports when the certificate's origin zones are not all on the
/// list. The resolution that imposes or amends the sanction sets it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum OriginRule {
    /// Accepted, and flagged so that importers check the shipment closely
    /// (enhanced vigilance). The default: a sanction whose resolution does
    /// not say still makes the origin visible.
    #[default]
    Flag,
    /// Refused (`sanctioned-origin`).
    Refuse,
}

impl OriginRule {
    /// The kebab-case name, as in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            OriginRule::Flag => "flag",
            OriginRule::Refuse => "refuse",
        }
    }
}

/// The act a resolution performs when adopted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ResolutionAction {
    /// Admit a new government Participant or trading entity.
    Admit {
        /// The new member as it will be listed.
        participant: Participant,
    },
    /// Expel a Participant: it stops trading and, if a government, validating.
    Expel {
        /// Whom.
        participant: ParticipantCode,
    },
    /// Readmit an expelled Participant.
    Readmit {
        /// Whom.
        participant: ParticipantCode,
    },
    /// Impose a sanction on a Participant that has none.
    ImposeSanction {
        /// Whom.
        participant: ParticipantCode,
        /// What it forbids.
        scope: SanctionScope,
        /// What happens to certificates of other Participants that declare
        /// its origin (absent in JSON: flagged).
        #[serde(default)]
        origin: OriginRule,
    },
    /// Replace the scope of a sanction in force (a zone added, a ban narrowed).
    AmendSanction {
        /// Whom.
        participant: ParticipantCode,
        /// The new scope.
        scope: SanctionScope,
        /// What happens to certificates of other Participants that declare
        /// its origin (absent in JSON: flagged).
        #[serde(default)]
        origin: OriginRule,
    },
    /// Lift the sanction in force.
    LiftSanction {
        /// Whom.
        participant: ParticipantCode,
    },
    /// Add an observer.
    AddObserver {
        /// The observer as it will be listed.
        observer: Participant,
    },
    /// Remove an observer.
    RemoveObserver {
        /// Which.
        observer: ParticipantCode,
    },
    /// Elect the Vice Chair, who becomes Chair on the next 1 January.
    ElectViceChair {
        /// The government Participant elected.
        participant: ParticipantCode,
    },
    /// Record an administrative decision by title and the hash of its text.
    AdministrativeDecision {
        /// Title.
        title: String,
        /// blake3 hash of the decision's text.
        text_hash: Hash,
    },
}

impl ResolutionAction {
    /// A short name of the kind of act (for listings and metrics).
    pub fn kind(&self) -> &'static str {
        match self {
            ResolutionAction::Admit { .. } => "admit",
            ResolutionAction::Expel { .. } => "expel",
            ResolutionAction::Readmit { .. } => "readmit",
            ResolutionAction::ImposeSanction { .. } => "impose-sanction",
            ResolutionAction::AmendSanction { .. } => "amend-sanction",
            ResolutionAction::LiftSanction { .. } => "lift-sanction",
            ResolutionAction::AddObserver { .. } => "add-observer",
            ResolutionAction::RemoveObserver { .. } => "remove-observer",
            ResolutionAction::ElectViceChair { .. } => "elect-vice-chair",
            ResolutionAction::AdministrativeDecision { .. } => "administrative-decision",
        }
    }
}

/// A proposed resolution (the proposer's signature counts as its own).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ResolutionProposal {
    /// Short title.
    pub title: String,
    /// What it does when adopted.
    pub action: ResolutionAction,
    /// Block time after which it lapses if incomplete; `None` takes the
    /// genesis default.
    pub deadline: Option<Timestamp>,
}
