"""The AWS side of hpo: deploy the infra/ CloudFormation stack, push the trainer image, tear down.

Every function takes its boto3 clients (or a factory of them) and its process runner as
arguments, so the commands in :mod:`hpo.commands.infra` can show a plan without calling AWS
(``--dry-run``) and tests can run them against moto or fakes.
"""
