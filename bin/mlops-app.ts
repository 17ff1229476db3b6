#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { buildReferenceApp } from '../examples/environments';
import { applyCompliancePacks } from 'mlops-constructs';

// The reference app: dev, staging and prod from one definition, held to the compliance packs.
// An unacknowledged cdk-nag finding fails `cdk synth`.
const app = new App();
buildReferenceApp(app);
applyCompliancePacks(app);
app.synth();
