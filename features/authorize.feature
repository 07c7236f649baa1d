Feature: authorize
