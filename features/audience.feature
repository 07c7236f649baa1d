Feature: audience
