"""What the public is told: the status page's model (built only from what commanders made
public), Atlassian Statuspage, and the plan's user notices."""
