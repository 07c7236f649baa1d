Feature: ttl
