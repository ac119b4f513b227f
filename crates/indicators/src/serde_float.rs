//! Floats in saved states, exactly: `#[serde(with = "crate::serde_float")]` on a state's fields.
//!
//! A state that has seen NaN or an infinity holds one, and JSON has no number for either:
//! serde_json would write `null`, which restores as an error (for an `f64`) or, worse, as `None`
//! (for an `Option<f64>`). In human-readable formats the fields so marked write a finite value
//! as a number and a non-finite one as the string `"NaN"`, `"inf"` or `"-inf"`, and read either;
//! binary formats get the plain `f64`. Every finite value round-trips bit for bit (serde_json
//! prints the shortest representation that reads back to the same bits).

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};

/// A field type whose floats are written as [`Real`]s.
pub(crate) trait Floats: Sized {
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;
    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error>;
}

pub(crate) fn serialize<T: Floats, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    value.write(serializer)
}

pub(crate) fn deserialize<'de, T: Floats, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
    T::read(deserializer)
}

/// One `f64`, non-finite values spelled out in human-readable formats.
#[derive(Clone, Copy)]
struct Real(f64);

impl Serialize for Real {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let x = self.0;
        if x.is_finite() || !serializer.is_human_readable() {
            serializer.serialize_f64(x)
        } else if x.is_nan() {
            serializer.serialize_str("NaN")
        } else if x > 0.0 {
            serializer.serialize_str("inf")
        } else {
            serializer.serialize_str("-inf")
        }
    }
}

impl<'de> Deserialize<'de> for Real {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RealVisitor;

        impl Visitor<'_> for RealVisitor {
            type Value = Real;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a number, "NaN", "inf" or "-inf""#)
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Real, E> {
                Ok(Real(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Real, E> {
                Ok(Real(v as f64))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Real, E> {
                Ok(Real(v as f64))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Real, E> {
                match v {
                    "NaN" => Ok(Real(f64::NAN)),
                    "inf" => Ok(Real(f64::INFINITY)),
                    "-inf" => Ok(Real(f64::NEG_INFINITY)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }

        deserializer.deserialize_any(RealVisitor)
    }
}

impl Floats for f64 {
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Real(*self).serialize(serializer)
    }

    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Real::deserialize(deserializer).map(|r| r.0)
    }
}

impl Floats for Option<f64> {
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.map(Real).serialize(serializer)
    }

    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Option::<Real>::deserialize(deserializer)?.map(|r| r.0))
    }
}

impl Floats for (f64, f64, f64) {
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(3)?;
        for x in [self.0, self.1, self.2] {
            tuple.serialize_element(&Real(x))?;
        }
        tuple.end()
    }

    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (a, b, c) = <(Real, Real, Real)>::deserialize(deserializer)?;
        Ok((a.0, b.0, c.0))
    }
}

impl Floats for Option<(f64, f64, f64)> {
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.map(|(a, b, c)| (Real(a), Real(b), Real(c))).serialize(serializer)
    }

    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Option::<(Real, Real, Real)>::deserialize(deserializer)?.map(|(a, b, c)| (a.0, b.0, c.0)))
    }
}

fn write_slice<S: Serializer>(values: &[f64], serializer: S) -> Result<S::Ok, S::Error> {
    let mut seq = serializer.serialize_seq(Some(values.len()))?;
    for &x in values {
        seq.serialize_element(&Real(x))?;
    }
    seq.end()
}

impl Floats for Box<[f64]> {
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        write_slice(self, serializer)
    }

    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SeqVisitor;

        impl<'de> Visitor<'de> for SeqVisitor {
            type Value = Box<[f64]>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence of numbers")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(Real(x)) = seq.next_element()? {
                    values.push(x);
                }
                Ok(values.into_boxed_slice())
            }
        }

        deserializer.deserialize_seq(SeqVisitor)
    }
}

impl Floats for (Box<[f64]>, Box<[f64]>) {
    fn write<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Column<'a>(&'a [f64]);

        impl Serialize for Column<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                write_slice(self.0, serializer)
            }
        }

        let mut tuple = serializer.serialize_tuple(2)?;
        tuple.serialize_element(&Column(&self.0))?;
        tuple.serialize_element(&Column(&self.1))?;
        tuple.end()
    }

    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Column(Box<[f64]>);

        impl<'de> Deserialize<'de> for Column {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Box::<[f64]>::read(deserializer).map(Column)
            }
        }

        let (a, b) = <(Column, Column)>::deserialize(deserializer)?;
        Ok((a.0, b.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize)]
    struct Sample {
        #[serde(with = "crate::serde_float")]
        x: f64,
        #[serde(with = "crate::serde_float")]
        maybe: Option<f64>,
        #[serde(with = "crate::serde_float")]
        column: Box<[f64]>,
        #[serde(with = "crate::serde_float")]
        triple: Option<(f64, f64, f64)>,
    }

    fn round_trip(sample: &Sample) -> Sample {
        serde_json::from_str(&serde_json::to_string(sample).unwrap()).unwrap()
    }

    #[test]
    fn non_finite_values_survive_json() {
        let sample = Sample {
            x: f64::NAN,
            maybe: Some(f64::NEG_INFINITY),
            column: vec![1.5, f64::INFINITY, f64::NAN, -0.0, 1e-308, 0.1 + 0.2].into(),
            triple: Some((f64::NAN, 2.0, f64::INFINITY)),
        };
        let json = serde_json::to_string(&sample).unwrap();
        assert_eq!(
            json,
            r#"{"x":"NaN","maybe":"-inf","column":[1.5,"inf","NaN",-0.0,1e-308,0.30000000000000004],"triple":["NaN",2.0,"inf"]}"#
        );
        let back = round_trip(&sample);
        assert!(back.x.is_nan());
        assert_eq!(back.maybe, Some(f64::NEG_INFINITY));
        let bits = |c: &[f64]| c.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back.column), bits(&sample.column));
        let (a, b, c) = back.triple.unwrap();
        assert!(a.is_nan() && b == 2.0 && c == f64::INFINITY);
    }

    #[test]
    fn none_stays_none_and_integers_read_as_floats() {
        let back: Sample = serde_json::from_str(r#"{"x":3,"maybe":null,"column":[],"triple":null}"#).unwrap();
        assert_eq!(back.x, 3.0);
        assert_eq!(back.maybe, None);
        assert!(back.column.is_empty());
        assert!(back.triple.is_none());
    }

    #[test]
    fn other_strings_are_errors() {
        let err = serde_json::from_str::<Sample>(r#"{"x":"nan","maybe":null,"column":[],"triple":null}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains(r#"a number, "NaN", "inf" or "-inf""#), "{err}");
        assert!(serde_json::from_str::<Sample>(r#"{"x":null,"maybe":null,"column":[],"triple":null}"#).is_err());
    }
}
