DROP TABLE alert_claims;
