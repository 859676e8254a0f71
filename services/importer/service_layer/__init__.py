"""The importer's handlers: accepting an upload, the job runner, identity's answers, how a job
ends, and what the API shows of a job."""
