//! Meta rules: ordering by dependency, and evaluation after every other rule.
//!
//! A meta rule reads other rules' values. A hit regex, `exists:` or eval
//! rule has its hit count, and a hit meta has its expression's result. A
//! rule that did not hit, did not run (score 0 in the set) or is not
//! defined has 0.
//! A meta hits when its expression is not 0. Its value is the result when
//! positive and 1 otherwise, because SpamAssassin 4.0.1's `got_hit` raises a
//! value of 0 or less to 1.
//!
//! Metas that read other metas run after them. Metas in a dependency cycle,
//! and metas that read one, never run, because no order gives them a value.

use std::collections::HashMap;

use super::Tally;
use crate::compile::CompiledRules;
use crate::rules::parse::evaluate_meta;
use crate::rules::{MetaExpr, RuleId, RuleModel};

/// Returns indexes into `metas`, each after the metas it reads (Kahn's
/// algorithm). Metas in or behind a cycle are left out.
pub fn dependency_order(model: &RuleModel, metas: &[(RuleId, MetaExpr)]) -> Vec<usize> {
    let slot_of: HashMap<RuleId, usize> = metas
        .iter()
        .enumerate()
        .map(|(slot, (id, _))| (*id, slot))
        .collect();

    // readers[d] lists the metas that read meta d, and pending[m] counts
    // the metas that m reads and that are not ordered yet.
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); metas.len()];
    let mut pending = vec![0usize; metas.len()];
    for (slot, (_, expr)) in metas.iter().enumerate() {
        let mut dependencies = Vec::new();
        expr.for_each_rule(&mut |name| {
            let dependency = model.id(name).and_then(|id| slot_of.get(&id));
            if let Some(dependency) = dependency {
                dependencies.push(*dependency);
            }
        });
        dependencies.sort_unstable();
        dependencies.dedup();
        pending[slot] = dependencies.len();
        for dependency in dependencies {
            readers[dependency].push(slot);
        }
    }

    let mut ready: Vec<usize> = (0..metas.len())
        .filter(|slot| pending[*slot] == 0)
        .collect();
    ready.reverse();
    let mut order = Vec::with_capacity(metas.len());
    while let Some(slot) = ready.pop() {
        order.push(slot);
        for reader in &readers[slot] {
            pending[*reader] -= 1;
            if pending[*reader] == 0 {
                ready.push(*reader);
            }
        }
    }
    order
}

/// The rule ids of the names in one meta expression, keyed by the address
/// and length of each name's text inside that expression.
///
/// `evaluate_meta` passes each name as a borrow of the expression's own
/// string, so a lookup compares two integers instead of hashing the name.
/// A name not found this way (another expression, or a copy) falls back to
/// the model's index, so the result never depends on the addresses.
#[derive(Debug, Default)]
pub struct ResolvedNames {
    entries: Vec<(usize, usize, Option<RuleId>)>,
}

impl ResolvedNames {
    /// Resolves every name in `expr`, which must stay at its address (it
    /// lives in the shared `CompiledRules`) for the keys to be found.
    pub fn new(model: &RuleModel, expr: &MetaExpr) -> ResolvedNames {
        let mut entries = Vec::new();
        expr.for_each_rule(&mut |name| {
            entries.push((name.as_ptr() as usize, name.len(), model.id(name)));
        });
        ResolvedNames { entries }
    }

    fn id(&self, model: &RuleModel, name: &str) -> Option<RuleId> {
        let key = (name.as_ptr() as usize, name.len());
        match self
            .entries
            .iter()
            .find(|(address, len, _)| (*address, *len) == key)
        {
            Some((_, _, id)) => *id,
            None => model.id(name),
        }
    }
}

/// Evaluates the metas in `order` and records their hits in `tally`.
pub(super) fn run(
    model: &RuleModel,
    compiled: &CompiledRules,
    order: &[usize],
    resolved: &[ResolvedNames],
    tally: &mut Tally<'_>,
) {
    let metas = compiled.metas();
    for slot in order {
        let (id, expr) = &metas[*slot];
        if !tally.runs(*id) {
            continue;
        }
        let values = &tally.values;
        let names = &resolved[*slot];
        let lookup = |name: &str| {
            let value = names.id(model, name).map_or(0.0, |id| values[id.index()]);
            Some(value)
        };
        // `lookup` returns a value for every name, so evaluation does not
        // fail, but an error would count as a miss.
        let Ok(result) = evaluate_meta(expr, &lookup) else {
            continue;
        };
        if result == 0.0 || result.is_nan() {
            continue;
        }
        let index = id.index();
        tally.counts[index] = 1;
        tally.values[index] = if result > 0.0 { result } else { 1.0 };
    }
}
