Feature: registration
