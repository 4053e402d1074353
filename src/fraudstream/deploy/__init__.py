"""Deployment to AWS: packaging, artifact upload, CloudFormation stacks and template checks."""
