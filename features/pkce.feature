Feature: pkce
