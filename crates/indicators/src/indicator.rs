//! The streaming interface every indicator state implements, and the output types that batch
//! results are collected into.

/// The running state of an indicator: one [`update`](Indicator::update) per new bar, O(1) time
/// and memory each (CCI, whose mean deviation has no O(1) update, is O(period) like TA-Lib's).
///
/// States come from an indicator's configuration (`Sma::new(20)?.state()`). Feeding a state the
/// bars of a series one by one gives exactly — bit for bit — the values of the batch function on
/// that series, and [`extend`](Indicator::extend) continues a series computed earlier exactly as a
/// full recomputation would: that is the incremental API. States are `Clone`: fork one to
/// compute a what-if without disturbing it.
pub trait Indicator: Clone {
    /// What one update takes: `f64` for indicators of a single series, [`Candle`](crate::Candle)
    /// for indicators of bars.
    type Input: Copy;
    /// What one update gives once the indicator is warmed up.
    type Output: IndicatorOutput;

    /// Feeds one input. Returns `None` for the first [`lookback`](Indicator::lookback) inputs and
    /// `Some(value)` from then on.
    fn update(&mut self, input: Self::Input) -> Option<Self::Output>;

    /// Forgets every input, as if the state were new.
    fn reset(&mut self);

    /// How many inputs give no output before the first one does (TA-Lib's lookback).
    fn lookback(&self) -> usize;

    /// Feeds every input in order and appends one output per input to `out`, NaN where
    /// [`update`](Indicator::update) gives `None`.
    ///
    /// This is the incremental API: keep the state (it is `Clone`, and serializable with the
    /// `serde` feature), and extend the stored series with the new bars only, in O(new bars).
    fn extend<I>(&mut self, inputs: I, out: &mut <Self::Output as IndicatorOutput>::Series)
    where
        I: IntoIterator<Item = Self::Input>,
    {
        let inputs = inputs.into_iter();
        if inputs.size_hint().0 < BATCH_THRESHOLD {
            for input in inputs {
                self.update(input).unwrap_or(Self::Output::NAN).push_to(out);
            }
            return;
        }
        let rest = Self::Output::extend_from(out, self, inputs);
        for input in rest {
            self.update(input).unwrap_or(Self::Output::NAN).push_to(out);
        }
    }
}

/// From this many inputs on, [`Indicator::extend`] runs the batch loop
/// ([`IndicatorOutput::extend_from`]) rather than updating the state in place.
const BATCH_THRESHOLD: usize = 64;

/// A value one update gives, and the columns a batch of them is collected into.
pub trait IndicatorOutput: Copy {
    /// The column type of a batch: `Vec<f64>`, or a struct of columns for multi-output indicators.
    type Series: Default;
    /// The value written while the indicator warms up: every field NaN.
    const NAN: Self;

    /// Appends `self` to `series`.
    fn push_to(self, series: &mut Self::Series);

    /// The batch loop of [`Indicator::extend`]: appends the outputs of `state` over as many of
    /// `inputs` as their size hint promises, and returns the inputs left over.
    ///
    /// It runs a local copy of the state over room made beforehand, in a function of its own:
    /// knowing that the stores into the copy's window buffers and into `series` cannot touch the
    /// copy's fields, with no reallocation call inside the loop and with registers to spare, the
    /// optimiser keeps the whole state in registers, several times faster than updating the
    /// state in place.
    #[doc(hidden)]
    fn extend_from<S, I>(series: &mut Self::Series, state: &mut S, inputs: I) -> I
    where
        S: Indicator<Output = Self>,
        I: Iterator<Item = S::Input>;
}

impl IndicatorOutput for f64 {
    type Series = Vec<f64>;
    const NAN: Self = f64::NAN;

    #[inline(always)]
    fn push_to(self, series: &mut Vec<f64>) {
        series.push(self);
    }

    #[inline(never)]
    fn extend_from<S, I>(series: &mut Vec<f64>, state: &mut S, mut inputs: I) -> I
    where
        S: Indicator<Output = Self>,
        I: Iterator<Item = S::Input>,
    {
        let start = series.len();
        series.resize(start + inputs.size_hint().0, f64::NAN);
        let mut local = state.clone();
        let mut written = 0;
        for slot in &mut series[start..] {
            let Some(input) = inputs.next() else { break };
            *slot = local.update(input).unwrap_or(f64::NAN);
            written += 1;
        }
        series.truncate(start + written);
        *state = local;
        inputs
    }
}

/// Declares a multi-output value type, its batch column struct, and their plumbing.
macro_rules! multi_output {
    (
        $(#[$value_doc:meta])* $value:ident,
        $(#[$series_doc:meta])* $series:ident,
        { $( $(#[$field_doc:meta])* $field:ident ),+ $(,)? }
    ) => {
        $(#[$value_doc])*
        #[derive(Clone, Copy, Debug, PartialEq)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        pub struct $value {
            $( $(#[$field_doc])* pub $field: f64, )+
        }

        $(#[$series_doc])*
        #[derive(Clone, Debug, Default, PartialEq)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        pub struct $series {
            $( $(#[$field_doc])* pub $field: Vec<f64>, )+
        }

        impl $series {
            /// Number of rows.
            pub fn len(&self) -> usize {
                [$( self.$field.len() ),+][0]
            }

            /// Whether there are no rows.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// The row at `index`.
            pub fn get(&self, index: usize) -> Option<$value> {
                Some($value { $( $field: *self.$field.get(index)?, )+ })
            }
        }

        impl $crate::indicator::IndicatorOutput for $value {
            type Series = $series;
            const NAN: Self = Self { $( $field: f64::NAN, )+ };

            #[inline(always)]
            fn push_to(self, series: &mut $series) {
                $( series.$field.push(self.$field); )+
            }

            #[inline(never)]
            fn extend_from<S, I>(series: &mut $series, state: &mut S, mut inputs: I) -> I
            where
                S: $crate::indicator::Indicator<Output = Self>,
                I: Iterator<Item = S::Input>,
            {
                let start = series.len();
                let additional = inputs.size_hint().0;
                $( series.$field.resize(start + additional, f64::NAN); )+
                let mut local = state.clone();
                let mut written = 0;
                {
                    $( let $field = &mut series.$field[start..start + additional]; )+
                    for row in 0..additional {
                        let Some(input) = inputs.next() else { break };
                        let value = local.update(input).unwrap_or(Self::NAN);
                        $( $field[row] = value.$field; )+
                        written += 1;
                    }
                }
                $( series.$field.truncate(start + written); )+
                *state = local;
                inputs
            }
        }
    };
}

pub(crate) use multi_output;

/// Runs a fresh state over inputs: the batch function of every indicator.
#[inline]
pub(crate) fn run<S, I>(mut state: S, inputs: I) -> <S::Output as IndicatorOutput>::Series
where
    S: Indicator,
    I: IntoIterator<Item = S::Input>,
{
    let mut out = <S::Output as IndicatorOutput>::Series::default();
    state.extend(inputs, &mut out);
    out
}
