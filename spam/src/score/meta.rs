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
//! Each expression is compiled once into postfix steps ([`Program`]).
//!
//! Metas that read other metas run after them. Metas in a dependency cycle,
//! and metas that read one, never run, because no order gives them a value.

use std::collections::HashMap;

use super::Tally;
use crate::compile::CompiledRules;
use crate::rules::parse::apply_meta_op;
use crate::rules::{MetaExpr, MetaOp, RuleId, RuleModel};

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

/// One step of a compiled meta expression ([`Program`]).
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Push the value of a rule, or 0 for a name that is not a rule.
    Load(Option<RuleId>),
    Push(f64),
    Not,
    Negate,
    Binary(MetaOp),
}

/// A meta expression compiled once into postfix steps over rule ids, so
/// that scoring a message neither walks the tree nor looks up a name.
/// It computes exactly what `evaluate_meta` computes with a lookup that
/// gives each rule its value and every other name 0.
#[derive(Debug, Default)]
pub struct Program {
    steps: Vec<Step>,
}

impl Program {
    /// Compiles `expr`, resolving each name in `model`.
    pub fn new(model: &RuleModel, expr: &MetaExpr) -> Program {
        let mut program = Program::default();
        program.push_expr(model, expr);
        program
    }

    fn push_expr(&mut self, model: &RuleModel, expr: &MetaExpr) {
        let step = match expr {
            MetaExpr::Rule(name) => Step::Load(model.id(name)),
            MetaExpr::Number(number) => Step::Push(*number),
            MetaExpr::Not(inner) => {
                self.push_expr(model, inner);
                Step::Not
            }
            MetaExpr::Negate(inner) => {
                self.push_expr(model, inner);
                Step::Negate
            }
            MetaExpr::Binary(op, left, right) => {
                self.push_expr(model, left);
                self.push_expr(model, right);
                Step::Binary(*op)
            }
        };
        self.steps.push(step);
    }

    /// Returns the expression's value, with `values` indexed by rule id.
    /// `stack` is scratch space.
    pub fn evaluate(&self, values: &[f64], stack: &mut Vec<f64>) -> f64 {
        stack.clear();
        let truth = |value: bool| f64::from(u8::from(value));
        for step in &self.steps {
            match *step {
                Step::Load(id) => {
                    stack.push(id.map_or(0.0, |id| values.get(id.index()).copied().unwrap_or(0.0)))
                }
                Step::Push(number) => stack.push(number),
                Step::Not | Step::Negate | Step::Binary(_) if stack.is_empty() => return 0.0,
                Step::Not => {
                    let top = stack.len() - 1;
                    stack[top] = truth(stack[top] == 0.0);
                }
                Step::Negate => {
                    let top = stack.len() - 1;
                    stack[top] = -stack[top];
                }
                Step::Binary(op) => {
                    let (Some(right), Some(left)) = (stack.pop(), stack.pop()) else {
                        return 0.0;
                    };
                    stack.push(apply_meta_op(op, left, right));
                }
            }
        }
        stack.pop().unwrap_or(0.0)
    }
}

/// Evaluates the metas in `order` and records their hits in `tally`.
pub(super) fn run(
    compiled: &CompiledRules,
    order: &[usize],
    programs: &[Program],
    tally: &mut Tally<'_>,
) {
    let metas = compiled.metas();
    let mut stack = Vec::new();
    for slot in order {
        let (id, _) = &metas[*slot];
        if !tally.runs(*id) {
            continue;
        }
        let result = programs[*slot].evaluate(&tally.values, &mut stack);
        if result == 0.0 || result.is_nan() {
            continue;
        }
        let index = id.index();
        tally.counts[index] = 1;
        tally.values[index] = if result > 0.0 { result } else { 1.0 };
    }
}
